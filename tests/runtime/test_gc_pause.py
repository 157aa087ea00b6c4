import gc
import threading

import numpy as np
import pytest

import fusejit
from fusejit.runtime.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_restored_after() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer compile is still running
    assert gc.isenabled()


def test_restored_when_the_body_raises() -> None:
    gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_threads_reenable_once_the_last_ends() -> None:
    gc.enable()
    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with gc_paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the worker's compile is still running
    release.set()
    t.join()
    assert gc.isenabled()


def test_jit_compiles_with_the_collector_paused_and_restores_it() -> None:
    gc.enable()
    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return x * 2 + 1

    out = fusejit.jit(f)(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(out, np.arange(5, dtype=np.float32) * 2 + 1)
    assert seen == [False]  # traced with the collector paused
    assert gc.isenabled()
