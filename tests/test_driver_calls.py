"""The jit call path: the generated per-signature call (results, variables) and the hot path that
lets the compiled program check the arguments instead of building a cache key."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import ArgumentError, Spec, Variable, jit
from fusejit.runtime import device as dev
from tests.helpers import assert_same


def test_result_trees_come_back_with_fresh_arrays() -> None:
    @jit(backend="cpu")
    def f(x, y):
        s = x + y
        return {"sum": s, "parts": [s * 2, (x.sum(), None)], "again": s, "scale": 2.5, "x": x}

    x, y = np.arange(4.0), np.ones(4)
    for _ in range(3):  # first call, then the hot path
        r = f(x, y)
        assert list(r) == ["sum", "parts", "again", "scale", "x"]
        assert_same(r["sum"], x + y)
        assert_same(r["parts"][0], 2 * (x + y))
        assert_same(r["parts"][1][0], x.sum())
        assert r["parts"][1][1] is None and r["scale"] == 2.5 and isinstance(r["parts"], list)
        assert not np.shares_memory(r["sum"], r["again"]) and not np.shares_memory(r["x"], x)
    assert f.trace_count == 1


def test_alternating_signatures_and_a_new_dtype() -> None:
    f = jit(lambda x: (x * 2, x - 1), backend="cpu")
    a, b, c = np.arange(3.0), np.arange(5.0), np.arange(3, dtype=np.float32)
    for _ in range(2):
        for x in (a, b, c, a):
            got = f(x)
            assert_same(list(got), [x * 2, x - 1])
    assert f.trace_count == 3


def test_signature_errors_still_name_the_argument() -> None:
    f = jit(lambda x, y: x + y, backend="cpu",
            input_signature=[Spec(("N", 3), np.float32), Spec(("N", 3), np.float32)])
    x = np.ones((2, 3), np.float32)
    assert_same(f(x, x), x + x)
    assert_same(f(x[:1], x[:1]), x[:1] * 2)
    with pytest.raises(ArgumentError, match="argument 'y' has shape"):
        f(x, np.ones((4, 3), np.float32))
    with pytest.raises(ArgumentError, match="argument 'x' has shape"):
        f(np.ones((2, 3)), x)
    assert f.trace_count == 1


def test_variables_on_the_hot_path_see_every_update() -> None:
    w = Variable(np.ones(3), name="w")
    f = jit(lambda x: x * w, backend="cpu")
    x = np.arange(3.0)
    assert_same(f(x), x)
    w.assign([1.0, 2.0, 3.0])
    assert_same(f(x), x * [1.0, 2.0, 3.0])
    step = jit(lambda x: [w.assign_add(x), w * 1.0][1], backend="cpu")
    for k in range(1, 4):
        assert_same(step(x), np.array([1.0, 2.0, 3.0]) + k * x)
    assert_same(f(x), x * (np.array([1.0, 2.0, 3.0]) + 3 * x))


def test_a_device_context_after_a_cpu_call_is_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    f = jit(lambda x: x + 1)
    x = np.ones(3, np.float32)
    assert_same(f(x), x + 1)
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(dev, "_driver_present", lambda: False)
    with fusejit.device("gpu"):
        with pytest.raises(dev.DeviceUnavailableError, match="an NVIDIA driver"):
            f(x)
    assert_same(f(x), x + 1)


def test_reference_backend_results_never_alias_a_variable() -> None:
    """The NumPy evaluator may return views (a transpose of an input): the variable's next
    in-place update must not change a result the caller holds."""
    v = Variable(np.arange(6.0).reshape(2, 3), name="v")
    f = jit(lambda: (v.T, v[0]), backend="reference")
    t, row = f()
    inc = jit(lambda: [v.assign_add(1.0)][:0], backend="reference")
    inc()
    assert_same(t, np.arange(6.0).reshape(2, 3).T)
    assert_same(row, np.arange(3.0))
    swap_a, swap_b = Variable(np.zeros(2), name="a"), Variable(np.ones(2), name="b")
    swap = jit(lambda: [swap_a.assign(swap_b.read()), swap_b.assign(swap_a.read())][:0], backend="reference")
    swap()
    assert_same(swap_a.numpy(), np.ones(2))
    assert_same(swap_b.numpy(), np.ones(2))  # program order: b takes a's new value
