"""First calls from many threads at once (issue 12, item 4): no crash, one trace and one compile
per signature, right answers. Each round runs in a fresh process, where every first call is cold.
``FUSEJIT_SOAK_ROUNDS=N`` runs N rounds per process instead of 4 (a longer local profile)."""

from __future__ import annotations

import os

import pytest

from tests.runtime.subprocess_run import run_python

# 8 threads, released together by a barrier, each making the first call of a fresh function of its
# own and of one shared function (in alternating order), on small arrays (one thread), large ones
# (the thread pool is bound concurrently), strided ones (the lazily compiled generic kernels are
# linked concurrently) and matrices (BLAS is bound concurrently). Repeated with new functions.
SCRIPT = r"""
import sys, threading
import numpy as np
import fusejit

THREADS, ROUNDS = 8, int(sys.argv[1])
rng = np.random.default_rng(0)
small = rng.standard_normal(37).astype(np.float32)
large = rng.standard_normal(1 << 17).astype(np.float32)
strided = rng.standard_normal(2 << 17).astype(np.float32)[::2]  # the signature of `large`, other strides
mat = rng.standard_normal((16, 16)).astype(np.float32)
inputs = [small, large, strided, mat]

def fresh(r, i):
    c = float(r * 100 + i)
    if i % 4 == 3:
        return (lambda x: np.maximum(x @ x + c, 0)), (lambda x: np.maximum(x @ x + c, 0))
    return (lambda x: np.tanh(x) * c + 1), (lambda x: np.tanh(x) * c + 1)

failures = []
for r in range(ROUNDS):
    shared_fn = lambda x, r=r: np.exp(-np.abs(x)) + r  # noqa: E731
    shared = fusejit.jit(shared_fn)
    own = [fresh(r, i) for i in range(THREADS)]
    jitted = [fusejit.jit(f) for f, _ in own]
    barrier = threading.Barrier(THREADS)

    def work(i):
        try:
            x = inputs[i % 4]
            barrier.wait()
            calls = [(shared, shared_fn, x), (jitted[i], own[i][1], x)]
            for f, ref, arg in calls if i % 2 else calls[::-1]:
                got, want = f(arg), ref(arg)
                assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
                np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
        except BaseException as exc:
            failures.append(f"round {r} thread {i}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if shared.trace_count != 3:  # one per signature: small, large (and strided), mat
        failures.append(f"round {r}: the shared function was traced {shared.trace_count} times")
print("\n".join(failures) or "ok")
"""


@pytest.mark.parametrize("cache", ["off", "disk"])
def test_eight_threads_make_first_calls_at_once(tmp_path, cache) -> None:
    rounds = os.environ.get("FUSEJIT_SOAK_ROUNDS", "4")
    r = run_python(SCRIPT, rounds, cache_dir=tmp_path if cache == "disk" else None, timeout=300 + 60 * int(rounds))
    assert r.returncode == 0, f"the process died ({r.returncode}): {r.stderr[-2000:]}"
    assert r.stdout.strip() == "ok", r.stdout[-3000:]
