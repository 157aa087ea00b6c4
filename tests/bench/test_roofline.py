import numpy as np
import pytest

from fusejit.bench.measure import add_ratios, empty_record
from fusejit.bench.roofline import compulsory_bytes, measure_copy_bandwidth, roofline_seconds, roofline_share


def test_compulsory_bytes_reads_each_input_once_and_writes_each_output_once():
    xs = [np.zeros(1000, np.float32)] * 3
    assert compulsory_bytes(xs, [np.zeros(1000, np.float32)]) == 16_000
    assert compulsory_bytes([np.zeros((4, 3), np.float64)], [np.float32(1.0), np.zeros(2, np.int8)]) == 96 + 4 + 2


def test_roofline_time_and_share():
    # chain at 10^7 float32: 3 inputs + 1 output = 160 MB; at 20 GB/s the roof is 8 ms
    nbytes = 4 * 10**7 * 4
    assert roofline_seconds(nbytes, 20e9) == pytest.approx(8e-3)
    assert roofline_share(nbytes, 20e9, 10e-3) == pytest.approx(0.8)
    assert roofline_share(nbytes, 20e9, 8e-3) == pytest.approx(1.0)


@pytest.mark.parametrize("bandwidth, seconds", [(0.0, 1.0), (-1.0, 1.0), (1e9, 0.0)])
def test_roofline_rejects_non_positive_inputs(bandwidth, seconds):
    with pytest.raises(ValueError, match="positive"):
        roofline_share(100, bandwidth, seconds)


def test_speedup_and_share_are_filled_from_the_medians():
    records = {"numpy": empty_record("ok"), "fusejit": empty_record("ok"), "peer": empty_record("wrong")}
    records["numpy"]["median_s"], records["fusejit"]["median_s"] = 40e-3, 5e-3
    add_ratios(records, "numpy", nbytes=100_000_000, bandwidth=25e9)
    assert records["numpy"]["speedup"] == pytest.approx(1.0)
    assert records["fusejit"]["speedup"] == pytest.approx(8.0)
    assert records["fusejit"]["roofline_share"] == pytest.approx(4e-3 / 5e-3)
    assert records["numpy"]["roofline_share"] == pytest.approx(0.1)
    assert records["peer"]["speedup"] is None and records["peer"]["roofline_share"] is None


def test_copy_bandwidth_is_measured_on_one_and_several_threads():
    bw = measure_copy_bandwidth(threads=2, nbytes=1 << 23, tries=2)
    assert bw.single_thread > 1e8 and bw.threaded > 1e8  # anything slower than 100 MB/s is a broken measurement
    assert bw.best == max(bw.single_thread, bw.threaded)
    assert bw.threads == 2 and bw.buffer_bytes == 1 << 23
