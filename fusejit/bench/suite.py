"""Run the suite: the whole record that the table, the JSON file and the plot are made from."""

from __future__ import annotations

import datetime
import math
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .compile_times import case_key, measure_compile_times
from .fusejit_facts import fusejit_facts
from .machine import env_vars, machine_facts
from .measure import add_ratios, build_all, describe, measure_variants
from .progress import Progress
from .roofline import compulsory_bytes, measure_copy_bandwidth, roofline_seconds
from .threads import apply_threads
from .variants import QUICK_VARIANTS, Variant, all_variants, as_numpy_tuple
from .workloads import DISPATCH_PROBE, WORKLOADS, Workload, numpy_namespace

SCHEMA_VERSION = 1


@dataclass
class Config:
    workloads: Sequence[str] = tuple(WORKLOADS)
    sizes: Sequence[int] | None = None  # replaces each workload's own sizes
    quick: bool = False
    threads: int | None = None
    variants: Sequence[str] | None = None  # None: all (quick: QUICK_VARIANTS)
    budget_s: float | None = None  # timing budget per workload and size
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [w for w in self.workloads if w not in WORKLOADS]
        if unknown:
            raise ValueError(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
        if self.sizes is not None and any(s < 1 for s in self.sizes):
            raise ValueError(f"sizes must be positive, got {list(self.sizes)}")

    @property
    def timing_budget_s(self) -> float:
        return self.budget_s if self.budget_s is not None else (0.25 if self.quick else 2.0)

    def sizes_of(self, w: Workload) -> Sequence[int]:
        return self.sizes or (w.quick_sizes if self.quick else w.sizes)


def select_variants(config: Config, variants: Sequence[Variant] | None) -> list[Variant]:
    pool = list(variants) if variants is not None else all_variants(config.threads)
    wanted = config.variants or (QUICK_VARIANTS if config.quick else None)
    if wanted is None:
        return pool
    unknown = set(wanted) - {v.key for v in pool}
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(v.key for v in pool)}")
    return [v for v in pool if v.key in wanted or v.key == "numpy"]  # NumPy is the oracle and the baseline


def run_case(w: Workload, size: int, variants: Sequence[Variant], built: dict, missing: dict, config: Config,
             progress: Progress, full: bool) -> dict[str, Any]:
    """One workload at one size: every variant checked and timed; with ``full``, the extras too."""
    try:
        arrays = w.inputs(size, config.seed)
        want = as_numpy_tuple(w.body(numpy_namespace(), *arrays))
    except MemoryError as exc:
        raise ValueError(f"{w.name} at size {size} does not fit in memory ({exc})") from None
    nbytes = compulsory_bytes(arrays, want)
    budget = config.timing_budget_s if full else config.timing_budget_s / 4
    records = measure_variants(variants, built, missing, arrays, want, w.tol, budget,
                               min_rounds=3 if config.quick else 7, memory=full,
                               on_variant=lambda key: progress.status(f"{w.name} {size}: {key}"))
    case = {"workload": w.name, "size": size, "shapes": [list(a.shape) for a in arrays],
            "dtypes": [str(a.dtype) for a in arrays], "compulsory_bytes": nbytes, "roofline_s": None,
            "variants": records}
    if full:
        if "fusejit" in records and not missing.get("fusejit"):
            progress.status(f"{w.name} {size}: compile")
            case["fusejit"] = fusejit_facts(w, arrays, config.threads)
        else:
            case["fusejit"] = None
    return case


def add_compile_times(results: list[dict[str, Any]], threads: int | None, bar: Progress) -> dict[str, Any]:
    """Fill each case's ``fusejit.compile_s`` from two fresh processes; returns the start-up figures."""
    cases = [c for c in results if c.get("fusejit")]
    if not cases:
        return {"cold": None, "cached": None, "error": None}
    bar.status("compile times (fresh processes)")
    try:
        times = measure_compile_times([{k: c[k] for k in ("workload", "shapes", "dtypes")} for c in cases], threads)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return {"cold": None, "cached": None, "error": describe(exc)}
    for c in cases:
        key = case_key(c["workload"], c["shapes"])
        for kind in ("cold", "cached"):
            c["fusejit"]["compile_s"][kind] = times[kind]["cases"].get(key)
            err = times[kind]["errors"].get(key)
            if err and not c["fusejit"]["error"]:
                c["fusejit"]["error"] = f"compile ({kind}): {err}"
    return {"cold": times["cold"]["init_s"], "cached": times["cached"]["init_s"],
            "error": times["cold"]["errors"].get("init")}


def finite(obj: Any) -> Any:
    """The record with NaN/inf floats as None: strict JSON has no NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def run_suite(config: Config, variants: Sequence[Variant] | None = None, progress: bool = False,
              command: str | None = None) -> dict[str, Any]:
    """Measure everything ``config`` selects; returns the JSON-ready record."""
    started = time.time()
    machine = machine_facts()  # before the run: its load average tells how quiet the machine was
    chosen = select_variants(config, variants)
    threads_applied = apply_threads(config.threads, {v.key for v in chosen})
    workloads = [WORKLOADS[n] for n in config.workloads]
    steps = sum(len(config.sizes_of(w)) + (not config.quick) for w in workloads) + 4
    bar = Progress(steps, enabled=progress)
    bar.status("copy bandwidth")
    bandwidth_threads = config.threads or machine["usable_cores"] or 1
    bw_start = measure_copy_bandwidth(bandwidth_threads, nbytes=(1 << 26) if config.quick else (1 << 27))
    bar.advance()
    missing = {v.key: v.missing() for v in chosen}
    results, dispatch = [], []
    for w in workloads:
        built = build_all(chosen, w, missing)
        for size in config.sizes_of(w):
            results.append(run_case(w, size, chosen, built, missing, config, bar, full=True))
            bar.advance()
        if not config.quick:  # --quick measures dispatch on the x + 1 probe only
            dispatch.append(run_case(w, w.tiny, chosen, built, missing, config, bar, full=False))
            bar.advance()
    compile_init = add_compile_times(results, config.threads, bar)
    bar.advance()
    probe = build_all(chosen, DISPATCH_PROBE, missing)
    dispatch.append(run_case(DISPATCH_PROBE, DISPATCH_PROBE.tiny, chosen, probe, missing, config, bar, full=False))
    bar.status("copy bandwidth")
    bw_end = measure_copy_bandwidth(bandwidth_threads, nbytes=bw_start.buffer_bytes)
    bar.advance()
    bar.close()
    # the roof is the better of two measurements, at the start and at the end: a busy moment
    # during one of them must not make every variant look closer to the roofline than it is
    roof = max(bw_start.best, bw_end.best)
    for case in results + dispatch:
        case["roofline_s"] = roofline_seconds(case["compulsory_bytes"], roof)
        add_ratios(case["variants"], "numpy", case["compulsory_bytes"], roof)
    machine["load_average_end"] = machine_facts()["load_average"]
    machine["env"] = env_vars()  # as the run saw it: --threads may have set XLA_FLAGS
    machine["copy_bandwidth"] = {
        "best_bytes_per_s": roof, "start_bytes_per_s": bw_start.best, "end_bytes_per_s": bw_end.best,
        "single_thread_bytes_per_s": max(bw_start.single_thread, bw_end.single_thread),
        "threaded_bytes_per_s": max(bw_start.threaded, bw_end.threaded), "threads": bandwidth_threads,
        "buffer_bytes": bw_start.buffer_bytes}
    return finite({
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "started_at": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": time.time() - started,
        "config": {**asdict(config), "workloads": list(config.workloads),
                   "sizes": list(config.sizes) if config.sizes else None,
                   "variants": [v.key for v in chosen], "timing_budget_s": config.timing_budget_s,
                   "threads_applied": threads_applied},
        "machine": machine,
        "variants": [{"key": v.key, "label": v.label, "missing": missing[v.key]} for v in chosen],
        "compile_init_s": compile_init,
        "results": results,
        "dispatch": dispatch,
    })
