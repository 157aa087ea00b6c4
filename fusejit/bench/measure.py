"""Measure every variant of one workload on one input set: check, warm up, time, memory.

A variant that is missing, cannot express the workload, raises, or answers wrongly gets a
record saying so and is never timed; the others are timed together, interleaved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .check import WrongAnswer, check_result
from .memory import peak_extra_bytes
from .timing import time_interleaved
from .variants import Unsupported, Variant

Built = Callable[..., Any] | BaseException  # what Variant.build gave: a callable or the exception it raised


def describe(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= limit else text[:limit - 1] + "…"


def empty_record(status: str, message: str | None = None) -> dict[str, Any]:
    return {"status": status, "message": message, "first_call_s": None, "max_error": None, "median_s": None,
            "min_s": None, "samples_s": [], "calls_per_sample": None, "page_faults_per_call": None,
            "peak_extra_bytes": None, "speedup": None, "roofline_share": None}


def build_all(variants: Sequence[Variant], workload: Any, missing: Mapping[str, str | None]) -> dict[str, Built]:
    built: dict[str, Built] = {}
    for v in variants:
        if missing.get(v.key):
            continue
        try:
            built[v.key] = v.build(workload)
        except Exception as exc:  # Unsupported, or a peer failing to set up: recorded, never fatal
            built[v.key] = exc
    return built


def attempt(variant: Variant, built: Built | None, missing: str | None, arrays: Sequence[np.ndarray],
            want: Sequence[np.ndarray], tol: float) -> tuple[dict[str, Any], Callable[[], Any] | None]:
    """Run once and check against NumPy; return the record and, if correct, a warmed-up call."""
    if missing:
        return empty_record("missing", missing), None
    if isinstance(built, Unsupported):
        return empty_record("unsupported", str(built)), None
    if isinstance(built, BaseException) or built is None:
        return empty_record("error", describe(built) if built else "not built"), None
    fn = built
    try:
        native = variant.to_native(arrays)

        def call() -> Any:
            return fn(*native)

        t0 = time.perf_counter()
        out = call()
        first = time.perf_counter() - t0
        got = variant.to_numpy(out)
    except Exception as exc:
        return empty_record("error", describe(exc)), None
    record = empty_record("ok")
    record["first_call_s"] = first
    try:
        record["max_error"] = check_result(got, want, tol, variant.strict_dtype)
    except WrongAnswer as exc:
        record.update(status="wrong", message=str(exc))
        return record, None
    try:
        call()  # warm-up: second call, caches and allocator pools settled
    except Exception as exc:
        return empty_record("error", f"second call: {describe(exc)}"), None
    return record, call


def measure_variants(variants: Sequence[Variant], built: Mapping[str, Built], missing: Mapping[str, str | None],
                     arrays: Sequence[np.ndarray], want: Sequence[np.ndarray], tol: float, budget_s: float,
                     min_rounds: int, memory: bool, on_variant: Callable[[str], None] = lambda key: None,
                     ) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    calls: dict[str, Callable[[], Any]] = {}
    for v in variants:
        on_variant(v.key)
        records[v.key], call = attempt(v, built.get(v.key), missing.get(v.key), arrays, want, tol)
        if call is not None:
            calls[v.key] = call
    on_variant("timing")
    for key, s in time_interleaved(calls, budget_s, min_rounds=min_rounds).items():
        records[key].update(median_s=s.median, min_s=min(s.seconds), samples_s=s.seconds,
                            calls_per_sample=s.calls_per_sample, page_faults_per_call=s.faults_per_call)
    if memory:
        on_variant("memory")
        for v in variants:
            if v.key in calls and v.tracemalloc_visible:
                if v.before_memory is not None:
                    v.before_memory()
                records[v.key]["peak_extra_bytes"] = peak_extra_bytes(calls[v.key])
    return records


def add_ratios(records: Mapping[str, dict[str, Any]], baseline: str, nbytes: int, bandwidth: float) -> None:
    """Speedup over the baseline and share of the roofline, for every timed variant."""
    from .roofline import roofline_share

    base = records.get(baseline, {}).get("median_s")
    for rec in records.values():
        if rec["median_s"]:
            rec["speedup"] = base / rec["median_s"] if base else None
            rec["roofline_share"] = roofline_share(nbytes, bandwidth, rec["median_s"])
