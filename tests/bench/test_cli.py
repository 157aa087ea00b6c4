import importlib.util
import json
from pathlib import Path

from click.testing import CliRunner

from fusejit.bench.workloads import WORKLOADS
from fusejit.cli import main

from .jsonschema_lite import validate

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "bench" / "schema.json").read_text())


def test_quick_bench_runs_and_its_json_validates_against_the_schema(tmp_path):
    out = tmp_path / "bench.json"
    args = ["bench", "--quick", "--no-progress", "--strict", "--json", str(out), "--markdown", str(tmp_path / "b.md")]
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if has_matplotlib:
        args += ["--plot", str(tmp_path / "bench.png")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert validate(record, SCHEMA) == []
    assert [c["workload"] for c in record["results"]] == list(WORKLOADS)
    assert [c["workload"] for c in record["dispatch"]] == ["add_one"]  # --quick: the dispatch probe only
    for case in record["results"]:
        numpy = case["variants"]["numpy"]
        assert numpy["status"] == "ok" and numpy["speedup"] == 1.0 and numpy["median_s"] > 0
        assert case["roofline_s"] == case["compulsory_bytes"] / record["machine"]["copy_bandwidth"]["best_bytes_per_s"]
    markdown = result.output
    assert markdown == (tmp_path / "b.md").read_text()
    assert "| workload | size | roofline | NumPy |" in markdown
    assert all(f"| {name} |" in markdown for name in WORKLOADS)
    if has_matplotlib:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_schema_rejects_a_broken_record():
    record = {"schema_version": 1, "results": [{"workload": "chain"}]}
    problems = validate(record, SCHEMA)
    assert "$: missing 'machine'" in problems
    assert any(p.startswith("$.results[0]: missing 'variants'") for p in problems)
    assert "$.schema_version: 2 is not one of [1]" in validate({**record, "schema_version": 2}, SCHEMA)


def test_unknown_workload_or_variant_is_a_usage_error():
    runner = CliRunner()
    result = runner.invoke(main, ["bench", "--workload", "nope"])
    assert result.exit_code == 2 and "unknown workload(s) nope" in result.output
    result = runner.invoke(main, ["bench", "--workload", "chain", "--variants", "numpy,tensorflow", "--size", "10"])
    assert result.exit_code == 2 and "unknown variant(s) tensorflow" in result.output
