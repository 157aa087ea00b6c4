"""A variant is one way of running a workload (NumPy, fusejit fused, a peer library…).

The suite needs four things from each: whether it is installed, a callable for a workload (or
``Unsupported``), how to hand it inputs in its own array type, and how to read its result back
as NumPy arrays for the correctness check. Peers live in ``peers/``; this module holds the
contract and the variants every install has: NumPy eager, fusejit unfused and fused.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .workloads import Workload, numpy_namespace


class Unsupported(Exception):
    """The variant has no natural way to express this workload (reported as n/a, not as an error)."""


def as_numpy_tuple(result: Any) -> tuple[np.ndarray, ...]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return tuple(np.asarray(r) for r in items)


@dataclass
class Variant:
    key: str  # JSON key and --variants name
    label: str  # table heading
    build: Callable[[Workload], Callable[..., Any]]  # raises Unsupported when it cannot express the workload
    missing: Callable[[], str | None] = lambda: None  # why it cannot run here (not installed), else None
    to_native: Callable[[Sequence[np.ndarray]], tuple] = tuple
    to_numpy: Callable[[Any], tuple[np.ndarray, ...]] = as_numpy_tuple
    tracemalloc_visible: bool = True  # does its allocator report to tracemalloc?
    before_memory: Callable[[], None] | None = None  # run before the memory probe: recycled buffers count too
    strict_dtype: bool = False  # must its outputs have exactly NumPy's dtypes?
    options: dict[str, Any] = field(default_factory=dict)


def bind(body: Callable, xp: Any, name: str) -> Callable:
    """``body`` with its namespace argument filled in, keeping the array parameters' names."""

    def fn(*arrays):
        return body(xp, *arrays)

    params = list(inspect.signature(body).parameters.values())[1:]
    fn.__signature__ = inspect.Signature(params)
    fn.__name__ = fn.__qualname__ = name
    return fn


def numpy_variant() -> Variant:
    xp = numpy_namespace()
    return Variant("numpy", "NumPy", lambda w: bind(w.body, xp, w.name))


def fusejit_missing() -> str | None:
    try:
        from fusejit import jit  # noqa: F401
    except ImportError as e:
        return f"fusejit.jit is not available ({e})"
    return None


def fusejit_jit(workload: Workload, fuse: bool, threads: int | None = None) -> Callable:
    """A fresh ``fusejit.jit`` of the workload's NumPy body (a new object: its caches start empty)."""
    from fusejit import jit

    return jit(bind(workload.body, numpy_namespace(), workload.name), fuse=fuse, threads=threads)


def empty_fusejit_pool() -> None:
    """Drop fusejit's idle pooled buffers, so a call's outputs and scratch are fresh allocations that
    tracemalloc sees (in steady state they are recycled blocks, invisible to it)."""
    try:
        from ..runtime.allocator import POOL
    except ImportError:  # no caching allocator in this build: nothing is hidden
        return
    POOL.clear()


def fusejit_variant(fuse: bool, threads: int | None = None) -> Variant:
    key, label = ("fusejit", "fusejit") if fuse else ("fusejit_unfused", "fusejit unfused")
    return Variant(key, label, lambda w: fusejit_jit(w, fuse, threads), fusejit_missing, strict_dtype=True,
                   before_memory=empty_fusejit_pool, options={"fuse": fuse, "threads": threads})


def all_variants(threads: int | None = None) -> list[Variant]:
    """Every variant in table order: the baseline, fusejit both ways, then the peers."""
    from .peers import peer_variants

    return [numpy_variant(), fusejit_variant(False, threads), fusejit_variant(True, threads), *peer_variants()]


#: what ``--quick`` runs unless --variants says otherwise: nothing that compiles for seconds
QUICK_VARIANTS = ("numpy", "fusejit_unfused", "fusejit", "numexpr")
