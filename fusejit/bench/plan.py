"""Bytes a compiled fusejit program moves, estimated from its fusion plan: every kernel reads its
inputs once and writes its outputs once (what fusion saves is the traffic of intermediates)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Node, bind_symbols
from ..ir.evaluator import concrete_shape


def node_bytes(node: Node, bindings: dict[str, int]) -> int:
    return math.prod(concrete_shape(node.shape, bindings)) * node.dtype.itemsize


def fusion_plan(executable: Any, fuse: bool) -> Any | None:
    """The executable's own plan if it exposes one, else the planner's plan for its graph."""
    plan = getattr(executable, "plan", None)
    if plan is not None:
        return plan
    try:
        from ..passes.fusion import plan_fusion
    except ImportError:
        return None
    return plan_fusion(executable.graph, fuse=fuse)


def bytes_moved(executable: Any, arrays: Sequence[np.ndarray], fuse: bool) -> tuple[int, str]:
    """(bytes, method): from the fusion plan, or — without a planner — one read and write per op."""
    graph = executable.graph
    bindings = bind_symbols(graph, [a.shape for a in arrays])
    plan = fusion_plan(executable, fuse)
    if plan is not None:
        return sum(node_bytes(n, bindings) for k in plan.kernels for n in (*k.inputs, *k.outputs)), "fusion plan"
    per_op = [n for n in graph.nodes if n.op not in ("input", "constant", "numel")]
    return sum(node_bytes(n, bindings) + sum(node_bytes(a, bindings) for a in n.args) for n in per_op), "per op"
