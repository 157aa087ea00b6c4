import pytest

from fusejit.bench.threads import apply_threads


def test_no_thread_budget_changes_nothing():
    assert apply_threads(None, {"numba", "torch"}) == {"requested": None}


def test_a_thread_budget_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        apply_threads(0, set())


def test_numba_gets_the_budget_when_selected():
    import numba

    n = numba.config.NUMBA_NUM_THREADS  # the default: the test leaves the process as it found it
    numba.set_num_threads(1)
    try:
        applied = apply_threads(n, {"numba"})
        assert applied["numba"] == n == numba.get_num_threads()
        assert applied["fusejit"] == n and "torch" not in applied
    finally:
        numba.set_num_threads(n)
