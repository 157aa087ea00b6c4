import numpy as np
import pytest

from fusejit.bench.suite import Config, run_suite
from fusejit.bench.variants import Unsupported, Variant, bind, numpy_variant
from fusejit.bench.workloads import numpy_namespace


class Counting:
    """A variant body that counts its calls, optionally answering wrongly or raising."""

    def __init__(self, workload, mode: str) -> None:
        self.fn, self.mode, self.calls = bind(workload.body, numpy_namespace(), workload.name), mode, 0

    def __call__(self, *arrays):
        self.calls += 1
        if self.mode == "raise":
            raise FloatingPointError("kernel blew up")
        out = self.fn(*arrays)
        return out * 1.01 if self.mode == "wrong" else out


def run(variants, **config):
    return run_suite(Config(workloads=["chain"], sizes=[1000], variants=[v.key for v in variants],
                            budget_s=0.01, **config), variants=[numpy_variant(), *variants])


def test_a_deliberately_wrong_variant_is_reported_wrong_and_never_timed():
    built = {}
    wrong = Variant("wrong", "wrong", lambda w: built.setdefault(w.name, Counting(w, "wrong")))
    record = run([wrong])
    case = record["results"][0]["variants"]
    assert case["wrong"]["status"] == "wrong"
    assert "relative error" in case["wrong"]["message"]
    assert case["wrong"]["median_s"] is None and case["wrong"]["samples_s"] == [] and case["wrong"]["speedup"] is None
    assert built["chain"].calls == 2  # once at size 1000, once on tiny inputs: only the checking calls
    assert case["numpy"]["status"] == "ok" and case["numpy"]["median_s"] > 0


def test_a_correct_variant_is_timed_and_compared():
    right = Variant("right", "right", lambda w: Counting(w, "right"))
    case = run([right])["results"][0]
    rec = case["variants"]["right"]
    assert rec["status"] == "ok" and rec["max_error"] == 0.0
    assert rec["median_s"] > 0 and len(rec["samples_s"]) >= 7
    assert rec["speedup"] == pytest.approx(case["variants"]["numpy"]["median_s"] / rec["median_s"])
    assert rec["roofline_share"] == pytest.approx(case["roofline_s"] / rec["median_s"])
    assert rec["peak_extra_bytes"] >= 4000  # at least its float32[1000] output


def test_errors_unsupported_and_missing_variants_are_cells_not_failures():
    def unsupported(w):
        raise Unsupported("cannot say tanh")

    variants = [Variant("raises", "raises", lambda w: Counting(w, "raise")),
                Variant("nope", "nope", unsupported),
                Variant("absent", "absent", lambda w: Counting(w, "right"), missing=lambda: "absent is not installed")]
    record = run(variants)
    case = record["results"][0]["variants"]
    assert case["raises"]["status"] == "error" and "FloatingPointError: kernel blew up" in case["raises"]["message"]
    assert case["nope"] == {**case["nope"], "status": "unsupported", "message": "cannot say tanh"}
    assert case["absent"]["status"] == "missing"
    assert {v["key"]: v["missing"] for v in record["variants"]}["absent"] == "absent is not installed"


def test_config_rejects_unknown_workloads_and_variants():
    with pytest.raises(ValueError, match="unknown workload.*choose from chain"):
        Config(workloads=["nope"])
    with pytest.raises(ValueError, match="unknown variant"):
        run_suite(Config(workloads=["chain"], variants=["numpy", "nope"]))


def test_every_workload_body_runs_on_its_tiny_inputs():
    from fusejit.bench.workloads import DISPATCH_PROBE, WORKLOADS

    for w in (*WORKLOADS.values(), DISPATCH_PROBE):
        out = w.body(numpy_namespace(), *w.inputs(w.tiny))
        for o in (out if isinstance(out, tuple) else (out,)):
            assert np.all(np.isfinite(o)), w.name
