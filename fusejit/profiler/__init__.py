"""A timeline profiler: ``with fusejit.profile("trace.json"):`` records every kernel execution of
compiled CPU programs, their BLAS calls and the compile phases, as Chrome trace events (open the
file in Perfetto or chrome://tracing); ``fusejit.profile_summary()`` prints the table.

How it stays free when off: see :mod:`.recorder` (profiling variants compiled on demand, swapped
in only while recording). Inside a recording, calls of one program take turns (its timestamps
live in one table), and each call pays two clock reads per kernel plus ~10 us of Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from .recorder import Recorder, phase, recording
from .summary import format_summary

_last: list[Recorder] = []


@contextlib.contextmanager
def profile(path: str | os.PathLike[str] | None = None) -> Iterator[Recorder]:
    """Record the block; on exit write the Chrome trace JSON to ``path`` (when given). The
    recording (``.events``) is yielded, and kept for :func:`profile_summary`."""
    with recording() as rec:
        yield rec
    _last[:] = [rec]
    if path is not None:
        write_trace(rec, path)


def write_trace(rec: Recorder, path: str | os.PathLike[str]) -> None:
    """The Chrome trace event format's JSON object form (``traceEvents`` plus metadata)."""
    doc = {"traceEvents": rec.trace_events(), "displayTimeUnit": "ms",
           "otherData": {"producer": "fusejit.profile", "clock": "CLOCK_MONOTONIC"}}
    with open(path, "w") as f:
        json.dump(doc, f)


def profile_summary(file: TextIO | None = None, *, recording: Recorder | None = None) -> str:
    """Print (to ``file``, default stdout) and return the summary table of the last profile."""
    rec = recording if recording is not None else (_last[0] if _last else None)
    if rec is None:
        raise RuntimeError("fusejit.profile_summary: nothing recorded yet; run code inside "
                           "`with fusejit.profile():` first")
    text = format_summary(rec.events, (rec.end_ns - rec.start_ns) / 1e3)
    print(text, file=file if file is not None else sys.stdout)
    return text


__all__ = ["phase", "profile", "profile_summary", "write_trace"]
