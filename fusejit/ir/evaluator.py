"""The reference evaluator: runs a graph op by op with NumPy.

It is the oracle of every differential test and the "unfused, interpreted" baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .graph import Graph, Node
from .registry import get_op
from .shapes import Shape, format_shape


class ShapeBindingError(ValueError):
    """Arguments whose shapes do not fit the graph's (possibly symbolic) input types."""


def bind_symbols(graph: Graph, shapes: Sequence[tuple[int, ...]], names: Sequence[str] | None = None) -> dict[str, int]:
    """Sizes of the graph's symbolic dims, read from concrete argument shapes (and checked)."""
    bindings: dict[str, int] = {}
    for i, (node, shape) in enumerate(zip(graph.inputs, shapes)):
        label = (names[i] if names else node.name) or f"input {i}"
        if len(shape) != node.ndim:
            raise ShapeBindingError(f"argument {label!r}: expected shape {format_shape(node.shape)}, "
                                    f"got {format_shape(shape)}")
        for d, actual in zip(node.shape, shape):
            if isinstance(d, str):
                if bindings.setdefault(d, actual) != actual:
                    raise ShapeBindingError(f"argument {label!r}: dim {d} is {actual} here but "
                                            f"{bindings[d]} in an earlier argument")
            elif d != actual:
                raise ShapeBindingError(f"argument {label!r}: expected shape {format_shape(node.shape)}, "
                                        f"got {format_shape(shape)}")
    return bindings


def bind_attrs(attrs: Mapping[str, Any], bindings: Mapping[str, int]) -> dict[str, Any]:
    """Replace symbolic dims inside list attributes (shape, stops) by their sizes."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (list, tuple)):
            v = [bindings[x] if isinstance(x, str) else x for x in v]
        out[k] = v
    return out


def run_node(node: Node, operands: Sequence[np.ndarray], bindings: Mapping[str, int]) -> np.ndarray:
    opdef = get_op(node.op)
    with np.errstate(all="ignore"):
        result = opdef.ref(*operands, **bind_attrs(node.attrs, bindings))
    return plain_layout(np.asarray(result, dtype=node.type.dtype))


def plain_layout(a: np.ndarray) -> np.ndarray:
    """``a`` in C order with the plain strides, copying only if needed. It makes the oracle
    layout-independent: NumPy takes other loops (SIMD vs scalar libm, other summation orders),
    with other bits, for strided operands, and even for a size-1 dim with stride 0 (which still
    counts as C-contiguous), so a transpose or a broadcast would change the ops that read it."""
    expected = a.itemsize
    for d, s in zip(reversed(a.shape), reversed(a.strides)):
        if s != expected:
            return np.array(a, order="C", copy=True)
        expected *= d
    return a


def evaluate(graph: Graph, args: Sequence[Any]) -> list[np.ndarray]:
    if len(args) != len(graph.inputs):
        raise TypeError(f"{graph.name} takes {len(graph.inputs)} argument(s), got {len(args)}")
    arrays = [plain_layout(np.asarray(a, dtype=n.type.dtype)) for a, n in zip(args, graph.inputs)]
    bindings = bind_symbols(graph, [a.shape for a in arrays])
    values: dict[int, np.ndarray] = {id(n): a for n, a in zip(graph.inputs, arrays)}
    for node in graph.nodes:
        values[id(node)] = run_node(node, [values[id(a)] for a in node.args], bindings)
    return [values[id(o)] for o in graph.outputs]


def concrete_shape(shape: Shape, bindings: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(bindings[d] if isinstance(d, str) else d for d in shape)
