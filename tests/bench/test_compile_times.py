from fusejit.bench.compile_times import case_key, measure_compile_times


def test_compile_times_cold_and_cached_come_from_fresh_processes_and_errors_stay_per_case():
    """Medians over two pairs of children; a case that fails to compile is reported, not timed."""
    good = {"workload": "chain", "shapes": [[10], [10], [10]], "dtypes": ["float32"] * 3}
    bad = {"workload": "chain", "shapes": [[10], [11], [10]], "dtypes": ["float32"] * 3}  # does not broadcast
    times = measure_compile_times([good, bad], threads=1, repeats=2, timeout_s=300)
    for kind in ("cold", "cached"):
        result = times[kind]
        assert result["init_s"] > 0 and not result["errors"].get("init")
        assert result["cases"][case_key("chain", good["shapes"])] > 0
        assert case_key("chain", bad["shapes"]) not in result["cases"]
        assert "10" in result["errors"][case_key("chain", bad["shapes"])]
