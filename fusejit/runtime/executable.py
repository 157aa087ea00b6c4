"""What every backend hands to ``jit``: a callable compiled program plus ways to inspect it.

Contract: ``exe(*arrays)`` takes NumPy arrays already converted to the graph's input dtypes (any
strides, shapes matching the graph's input types with symbols bound consistently) and returns a
list of fresh NumPy arrays the caller owns, one per graph output. Optional: ``inplace`` (output
index -> input index written in place: that result is the input array itself), ``fresh_results``
(True: no other result shares memory with an argument), ``probe(*arrays)`` (the call, or ``MISS``
without running anything when the arrays are not exactly the program's types).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..ir import Graph, evaluate


class _Miss:
    """What ``exe.probe(*arrays)`` returns when the arrays do not fit the program exactly (type,
    dtype, shape, strides): nothing ran; the caller takes its general path."""

    def __repr__(self) -> str:
        return "MISS"


MISS = _Miss()


class Executable(Protocol):
    graph: Graph  # the optimized graph that was compiled

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]: ...

    @property
    def num_kernels(self) -> int: ...


class ReferenceExecutable:
    """Runs the graph op by op with NumPy: the interpreted, unfused baseline and the oracle."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        inputs = {id(a) for a in arrays}
        return [np.array(r) if id(r) in inputs else r for r in evaluate(self.graph, arrays)]

    @property
    def num_kernels(self) -> int:
        return len(self.graph.nodes)
