"""fusejit.profile on the GPU path (numba-cuda's simulator): kernel events and host↔device copies."""

from __future__ import annotations

import numpy as np

import fusejit
from fusejit.profiler import recorder


def test_gpu_kernels_and_copies_are_events(sim) -> None:
    f = fusejit.jit(lambda a, b: (np.exp(a) * b).sum(axis=1), device="gpu")
    a, b = np.ones((4, 8), np.float32), np.full((4, 8), 2.0, np.float32)
    want = f(a, b)
    exe = f.lower(a, b)
    with fusejit.profile() as rec:
        got = f(a, b)
        assert "_run" in vars(exe)
    assert not any(attr in vars(exe) for attr in ("_run", "_place", "_result"))  # off again: class methods
    np.testing.assert_array_equal(got, want)
    cats = [e["cat"] for e in rec.events]
    assert cats.count("kernel") == len(exe.kernels)
    copies = [e for e in rec.events if e["cat"] == "copy"]
    assert [e["name"] for e in copies] == ["host→device copy"] * 2 + ["device→host copy"]
    assert copies[0]["args"]["bytes"] == a.nbytes and copies[-1]["args"]["bytes"] == want.nbytes
    kernel = next(e for e in rec.events if e["cat"] == "kernel")
    assert kernel["args"]["bytes"] >= a.nbytes + b.nbytes
    assert recorder.active() is None
