"""What a kernel skeleton produces: Python source for numba-cuda plus how to call and launch it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ...ir import Node
from .emit import Block, Emitter
from .launch import DeviceProps

Launch = Callable[[Mapping[str, int], DeviceProps], tuple[tuple[int, ...], tuple[int, ...]]]


@dataclass
class Entry:
    """One ``@cuda.jit`` function of a kernel and its launch rule (grid, block from sizes)."""

    fn: str
    params: list[str]
    launch: Launch
    loads: list[Node]  # what its a0, a1, ... are


@dataclass
class KernelSource:
    name: str
    kind: str  # loop | row | column | tree | gemm
    source: str
    entries: list[Entry]
    outputs: list[Node]  # stored as o0, o1, ...
    loads: list[Node]  # read as a0, a1, ...
    symbols: list[str]  # passed as n_<symbol>
    scratch: dict[str, tuple[np.dtype, Callable[[Mapping[str, int], DeviceProps], int]]] = field(default_factory=dict)
    flat: bool = False  # every array argument is passed as a 1-D C-contiguous view
    fallback: KernelSource | None = None  # the indexed form of a flat kernel, for strided arrays


def function(name: str, em: Emitter, outputs: list[Node], body: Block,
             extra: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """Render ``def name(o..., a..., extra..., n_...):`` around ``body``; returns (source, params)."""
    params = [f"o{k}" for k in range(len(outputs))] + [em.array(n) for n in em.loads] + list(extra) \
        + (["err"] if em.uses_err else []) + [f"n_{s}" for s in em.symbols]
    lines = [f"def {name}({', '.join(params)}):", *body.render(1)]
    return "\n".join(lines) + "\n", params


def size_of(dims: tuple, bindings: Mapping[str, int]) -> int:
    n = 1
    for d in dims:
        n *= d if isinstance(d, int) else bindings[d]
    return n
