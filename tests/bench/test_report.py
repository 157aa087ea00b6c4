import pytest

from fusejit.bench.measure import empty_record
from fusejit.bench.report import cell, fmt_bytes, fmt_count, fmt_time, versus_best_other


@pytest.mark.parametrize("seconds, text", [(None, "–"), (4.2e-6, "4.2 µs"), (0.0435, "43.5 ms"), (2.5, "2.5 s")])
def test_times(seconds, text):
    assert fmt_time(seconds) == text


def test_sizes_and_bytes():
    assert [fmt_count(n) for n in (10**3, 10**7, 2048, 4096 * 4096)] == ["10³", "10⁷", "2,048", "16,777,216"]
    assert [fmt_bytes(n) for n in (652, 16 << 20, 1.75 * (1 << 30))] == ["652 B", "16 MiB", "1.75 GiB"]


def test_cells_show_time_speedup_and_roofline_share_or_the_status():
    rec = {**empty_record("ok"), "median_s": 5.25e-3, "speedup": 8.29, "roofline_share": 0.843}
    assert cell(rec, baseline=False, best=True) == "**5.25 ms · 8.3× · 84%**"
    assert cell({**rec, "speedup": 1.0}, baseline=True, best=False) == "5.25 ms · 84%"
    assert cell(empty_record("wrong", "off"), baseline=False, best=False) == "**wrong**"
    assert cell(empty_record("missing"), baseline=False, best=False) == ""
    assert cell(empty_record("unsupported"), baseline=False, best=False) == "n/a"


def test_fusejit_is_compared_with_the_fastest_other_variant():
    recs = {k: {**empty_record("ok"), "median_s": t} for k, t in
            (("numpy", 40e-3), ("fusejit", 5e-3), ("fusejit_unfused", 1e-3), ("jax", 10e-3))}
    recs["torch"] = empty_record("wrong")
    labels = {"numpy": "NumPy", "jax": "JAX jit"}
    assert versus_best_other(recs, labels) == "2.00× JAX jit"
    assert versus_best_other({"numpy": recs["numpy"]}, labels) == "–"
