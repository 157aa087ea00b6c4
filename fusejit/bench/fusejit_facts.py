"""What only fusejit can say about a workload: kernels fused vs unfused and the bytes each plan
moves (compile times come from :mod:`.compile_times`, measured in fresh processes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .measure import describe
from .plan import bytes_moved
from .variants import fusejit_jit
from .workloads import Workload


def fusejit_facts(workload: Workload, arrays: Sequence[np.ndarray], threads: int | None) -> dict[str, Any]:
    facts: dict[str, Any] = {"kernels": {"fused": None, "unfused": None},
                             "bytes_moved": {"fused": None, "unfused": None, "method": None},
                             "compile_s": {"cold": None, "cached": None}, "error": None}
    try:
        for key, fuse in (("fused", True), ("unfused", False)):
            exe = fusejit_jit(workload, fuse, threads).lower(*arrays)
            facts["kernels"][key] = int(exe.num_kernels)
            facts["bytes_moved"][key], facts["bytes_moved"]["method"] = bytes_moved(exe, arrays, fuse)
    except Exception as exc:  # a fusejit failure is a finding to report, not a crash of the suite
        facts["error"] = describe(exc)
    return facts
