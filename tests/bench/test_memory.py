import tracemalloc

import numpy as np

from fusejit.bench.memory import peak_extra_bytes


def test_peak_counts_temporaries_and_the_result():
    def two_temporaries():
        a = np.ones(1 << 20, np.uint8)
        b = a + 1  # a second MiB alive at the same time
        return b[:10].copy()

    peak = peak_extra_bytes(two_temporaries)
    assert 2 << 20 <= peak < 3 << 20


def test_tracemalloc_state_is_left_as_found():
    assert not tracemalloc.is_tracing()
    peak_extra_bytes(lambda: np.ones(10))
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        assert peak_extra_bytes(lambda: np.ones(1 << 20, np.uint8)) >= 1 << 20
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
