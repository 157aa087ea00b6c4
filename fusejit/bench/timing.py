"""Interleaved timing: every round runs each variant once (in a rotating order), so drift of the
machine — frequency, a noisy neighbour — hits all variants alike; medians are reported.

Calls faster than ``min_sample_s`` are repeated inside one sample so the clock's resolution and
the loop's own cost stay negligible; page faults (``ru_minflt``) are counted around each sample.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Samples:
    calls_per_sample: int
    seconds: list[float] = field(default_factory=list)  # per call, one entry per sample
    faults: list[float] = field(default_factory=list)  # minor page faults per call, per sample

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def faults_per_call(self) -> float:
        return statistics.median(self.faults)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_one(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_interleaved(fns: Mapping[str, Callable[[], Any]], budget_s: float, min_rounds: int = 5,
                     max_rounds: int = 1000, min_sample_s: float = 2e-4) -> dict[str, Samples]:
    """Median-ready samples of each zero-argument callable (already warmed up by the caller).

    The round count fits ``budget_s`` from one probe call each, clamped to [min_rounds, max_rounds].
    Each sample follows one untimed call of the same callable: on few cores another library's
    worker threads keep spinning for a while after its call, and would otherwise be timed as part
    of whichever variant runs next (a multi-threaded variant then runs on one core).
    """
    keys = list(fns)
    if not keys:
        return {}
    probe = {k: max(time_one(fns[k]), 1e-7) for k in keys}
    reps = {k: max(1, int(min_sample_s / probe[k])) for k in keys}
    per_round = sum(probe[k] * reps[k] for k in keys)
    rounds = max(min_rounds, min(max_rounds, int(budget_s / per_round)))
    samples = {k: Samples(reps[k]) for k in keys}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            for k in keys[r % len(keys):] + keys[:r % len(keys)]:
                fn, n = fns[k], reps[k]
                fn()  # untimed: the previous variant's spinning threads disturb this call, not the sample
                f0 = minor_faults()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                t1 = time.perf_counter()
                samples[k].faults.append((minor_faults() - f0) / n)
                samples[k].seconds.append((t1 - t0) / n)
            if gc_was_enabled and r % 16 == 15:
                gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples
