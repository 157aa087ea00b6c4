"""A Variable shared by threads (issue 12, item 12). The rule (tracer/variables.py): every update
of a variable is atomic with respect to every read and every other update of it, outside jit and
through jitted code. Readers never see half-old, half-new values; concurrent increments all count."""

from __future__ import annotations

import threading
import time

import numpy as np

import fusejit

N = 1 << 19  # ~4 MiB of float64: a copy takes long enough for a torn read to be caught


def _run(workers, seconds: float = 0.6) -> list[str]:
    stop, errors = threading.Event(), []

    def loop(fn):
        try:
            while not stop.is_set():
                fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return errors


def test_readers_never_see_a_half_updated_variable() -> None:
    v = fusejit.Variable(np.zeros(N), name="flag")
    ones, zeros = np.ones(N), np.zeros(N)

    @fusejit.jit
    def flip() -> None:  # an update through jitted code
        v.assign(1.0 - v.read())

    scaled = fusejit.jit(lambda x: v.read() * x)  # a read through jitted code
    seen: list[str] = []

    def check(a: np.ndarray, who: str) -> None:
        if a.min() != a.max():
            seen.append(f"{who} saw {int((a == a[0]).sum())} of {a.size} elements from one value")

    workers = [lambda: v.assign(ones), lambda: v.assign(zeros), flip,
               lambda: check(scaled(np.float64(2.0)) / 2, "a jitted reader"), lambda: check(v.numpy(), "numpy()")]
    assert _run(workers) == []
    assert seen == []


def test_concurrent_increments_are_not_lost() -> None:
    v = fusejit.Variable(np.zeros(N // 8), name="count")

    @fusejit.jit
    def inc(x):
        v.assign_add(x)

    one = np.float64(1.0)
    inc(one)  # compiled before the threads start
    counts = [0] * 4

    def jitted(k: int):
        def step() -> None:
            inc(one)
            counts[k] += 1
        return step

    def eager(k: int):
        def step() -> None:
            v.assign_add(1.0)
            counts[k] += 1
        return step

    assert _run([jitted(0), jitted(1), eager(2), eager(3)], seconds=0.4) == []
    value = v.numpy()
    assert value.min() == value.max() == 1 + sum(counts), (value.min(), value.max(), counts)


def test_a_pickled_variable_gets_a_lock_of_its_own() -> None:
    import pickle

    v = fusejit.Variable(np.arange(3.0), name="w")
    w = pickle.loads(pickle.dumps(v))  # dask ships variables this way; a lock does not pickle
    w.assign_add(1.0)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [0.0, 1.0, 2.0])
    assert w._lock is not v._lock
