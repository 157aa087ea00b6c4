"""Shared check for the peer tests: a peer's version of a workload gives NumPy's answer."""

from __future__ import annotations

from fusejit.bench.check import check_result
from fusejit.bench.variants import Unsupported, Variant, as_numpy_tuple
from fusejit.bench.workloads import DISPATCH_PROBE, WORKLOADS, numpy_namespace

ALL = [*WORKLOADS, DISPATCH_PROBE.name]


def workload(name: str):
    return DISPATCH_PROBE if name == DISPATCH_PROBE.name else WORKLOADS[name]


def assert_agrees_with_numpy(variant: Variant, name: str, size: int | None = None) -> None:
    w = workload(name)
    arrays = w.inputs(size or w.tiny)
    try:
        fn = variant.build(w)
    except Unsupported:
        return
    want = as_numpy_tuple(w.body(numpy_namespace(), *arrays))
    check_result(variant.to_numpy(fn(*variant.to_native(arrays))), want, w.tol, variant.strict_dtype)
