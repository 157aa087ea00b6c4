"""What every backend hands to ``jit``: a callable compiled program plus ways to inspect it.

Contract: ``exe(*arrays)`` takes NumPy arrays already converted to the graph's input dtypes (any
strides, shapes matching the graph's input types with symbols bound consistently) and returns a
list of fresh NumPy arrays the caller owns, one per graph output.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..ir import Graph, evaluate


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
