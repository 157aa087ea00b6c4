"""Variables on the GPU backend (simulator): updates are copied into the variable's buffer after
the call, in program order, and no result shares memory with that buffer."""

from __future__ import annotations

import numpy as np

from fusejit import Variable, jit
from tests.helpers import assert_same


def test_updates_land_in_the_same_buffer(sim) -> None:
    w = Variable(np.arange(9.0, dtype=np.float32).reshape(3, 3), name="w")
    buf = w._value

    @jit(device="gpu")
    def step(x):
        old = w * 1.5
        w.assign(w.T - x)
        return old, w.read()

    x = np.ones((3, 3), np.float32)
    start = w.numpy()
    old, new = step(x)
    assert_same(old, start * 1.5)
    assert_same(new, start.T - 1)
    assert_same(w.numpy(), start.T - 1)
    assert w._value is buf and not np.shares_memory(new, buf)
