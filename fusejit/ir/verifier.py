"""Graph verifier: the invariants every pass must preserve, and the gate for untrusted files.

Beyond "each op's type rule gives the declared type", every attribute of every op is checked
against its operand types (:data:`ATTRIBUTES` declares the kind of each one; a test fails when a
registered op's attribute has no kind), and every type against what native code can address:
a value the loader lets through is one the code generators index safely. Why both: a type rule
computes a result type, and several attributes do not show in it — a slice's stop of 10 on a dim
of 6 gives ``f32[10]`` just as a stop of 10 on a dim of 10 does (issue 12, item 8: the compiled
program then read past its input). Everything here is iterative: a 50,000-node chain verifies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .dtypes import SHORT_NAMES
from .graph import Graph, Node
from .registry import IRTypeError, check_arity, get_op
from .shapes import TensorType

MAX_DIM = 1 << 62  # dims, sizes and attribute integers stay far from int64 overflow in index arithmetic
MAX_BYTES = 1 << 62  # bytes of one value


class VerificationError(ValueError):
    """A malformed graph; the message names the offending node."""


# The kind of every attribute (see _check_attr): "axis" is an index into operand 0's dims, "wrap_axis"
# may also count from the end, "axes" are distinct axes, "dims" a shape (ints or symbols), "ints" a
# list of integers, "int" one integer, "codes4" a list of codes 0-3, "bool" a flag, "dtype" a supported
# dtype; "slice" triples are checked together.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "cast": {"dtype": "dtype"},
    "constant": {"value": "array"},
    "numel": {"axes": "axes", "dtype": "dtype"},
    "broadcast": {"shape": "dims"},
    "transpose": {"perm": "ints"},
    "reshape": {"shape": "dims"},
    "slice": {"starts": "slice", "stops": "slice", "steps": "slice"},
    "update_slice": {"starts": "slice", "stops": "slice", "steps": "slice"},
    "concat": {"axis": "axis"},
    "reduce_sum": {"axes": "axes"},
    "reduce_prod": {"axes": "axes"},
    "reduce_max": {"axes": "axes"},
    "reduce_min": {"axes": "axes"},
    "argmax": {"axis": "axis"},
    "argmin": {"axis": "axis"},
    "take": {"axis": "wrap_axis"},
    "scatter_add": {"axis": "int", "size": "int"},
    "cumsum": {"axis": "axis"},
    "cumprod": {"axis": "axis"},
    "philox": {"shape": "dims", "stream": "int", "word": "int", "dtype": "dtype"},
    "conv2d": {"strides": "ints", "pads": "ints", "dilations": "ints", "groups": "int"},
    "conv2d_blocked": {"strides": "ints", "dilations": "ints", "out_channels": "int", "epilogue": "codes4",
                       "relu": "bool"},
    "conv2d_backprop_filter": {"ksize": "ints", "strides": "ints", "pads": "ints", "dilations": "ints",
                               "groups": "int"},
}


def verify(graph: Graph) -> None:
    defined: set[int] = set()
    for i, node in enumerate(graph.inputs):
        if node.op != "input":
            raise VerificationError(f"input {i} is a {node.op} node, not an input")
        try:
            check_type(node.type)
        except IRTypeError as exc:
            raise VerificationError(f"input {i}: {exc}") from None
        defined.add(id(node))
    for i, node in enumerate(graph.nodes):
        where = f"node %{i} ({node.op})"
        if node.op == "input":
            raise VerificationError(f"{where}: an input that is not a graph parameter")
        try:
            opdef = get_op(node.op)
        except KeyError as exc:
            raise VerificationError(f"{where}: {exc}") from None
        for a in node.args:
            if id(a) not in defined:
                raise VerificationError(f"{where}: operand {a!r} is not defined before use")
        try:
            check_arity(opdef, len(node.args))
            missing = [k for k in opdef.attrs if k not in node.attrs]
            if missing:
                raise IRTypeError(f"missing attribute(s) {missing}")
            inferred = opdef.infer([a.type for a in node.args], node.attrs)  # its own messages first
            check_attributes(node)
            check_type(node.type)
        except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise VerificationError(f"{where}: {exc}") from None
        if inferred != node.type:
            raise VerificationError(f"{where}: declared type {node.type} but the op gives {inferred}")
        defined.add(id(node))
    for o in graph.outputs:
        if id(o) not in defined:
            raise VerificationError(f"output {o!r} is not defined in the graph")


def check_type(t: TensorType) -> None:
    """A supported dtype; every dim a non-negative int below ``MAX_DIM`` or a symbol name; the
    value's static bytes below ``MAX_BYTES``."""
    if t.dtype not in SHORT_NAMES:
        raise IRTypeError(f"unsupported dtype {t.dtype}")
    for d in t.shape:
        if isinstance(d, str):
            if not d.isidentifier():
                raise IRTypeError(f"dim {d!r} is neither a size nor a symbol name")
        elif not _is_int(d) or not 0 <= d < MAX_DIM:
            raise IRTypeError(f"dim {d!r} of {t} is not a size (0 <= size < 2**62)")
    if math.prod(d for d in t.shape if isinstance(d, int)) * t.dtype.itemsize >= MAX_BYTES:
        raise IRTypeError(f"{t} is too large to address (2**62 bytes or more)")


def check_attributes(node: Node) -> None:
    """Every attribute of ``node`` is of its declared kind and fits the operand types."""
    kinds = ATTRIBUTES.get(node.op, {})
    extra = sorted(set(node.attrs) - set(kinds))
    if extra:
        raise IRTypeError(f"unknown attribute(s) {extra}")
    ndim = node.args[0].ndim if node.args else 0
    for name, kind in kinds.items():
        if name in node.attrs and kind != "slice":
            _check_attr(name, kind, node.attrs[name], ndim)
    if "slice" in kinds.values():
        check_slice(node.args[0].type, node.attrs)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _int(name: str, v: Any, lo: int = -MAX_DIM, hi: int = MAX_DIM) -> int:
    if not _is_int(v) or not lo <= v < hi:
        raise IRTypeError(f"attribute {name}={v!r} is not an integer in [{lo}, {hi})")
    return int(v)


def _list(name: str, v: Any) -> list:
    if not isinstance(v, (list, tuple)):
        raise IRTypeError(f"attribute {name}={v!r} is not a list")
    return list(v)


def _check_attr(name: str, kind: str, v: Any, ndim: int) -> None:
    if kind == "axis":
        _int(name, v, 0, ndim)
    elif kind == "wrap_axis":
        _int(name, v, -ndim, ndim)
    elif kind == "axes":
        axes = [_int(name, a, 0, ndim) for a in _list(name, v)]
        if len(set(axes)) != len(axes):
            raise IRTypeError(f"attribute {name}={v!r} repeats an axis")
    elif kind == "dims":
        for d in _list(name, v):
            if not (isinstance(d, str) and d.isidentifier()):
                _int(name, d, 0)
    elif kind == "ints":
        for x in _list(name, v):
            _int(name, x)
    elif kind == "int":
        _int(name, v)
    elif kind == "codes4":
        for x in _list(name, v):
            _int(name, x, 0, 4)
    elif kind == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise IRTypeError(f"attribute {name}={v!r} is not true or false")
    elif kind == "dtype":
        if not isinstance(v, np.dtype) or v not in SHORT_NAMES:
            raise IRTypeError(f"attribute {name}={v!r} is not a supported dtype")
    elif kind == "array":
        if not isinstance(v, np.ndarray) or v.dtype not in SHORT_NAMES:
            raise IRTypeError("constant value must be an ndarray of a supported dtype")
    else:
        raise AssertionError(f"unknown attribute kind {kind!r}")


def check_slice(src: TensorType, attrs: dict[str, Any]) -> None:
    """Normalized slice triples (what ``slice.indices`` gives): per dim of size d, a step c != 0;
    for c > 0, 0 <= start, stop <= d; for c < 0, -1 <= start, stop <= d - 1 (-1: before index 0).
    So every index the slice touches is inside the operand. A symbolic dim is taken whole."""
    starts, stops, steps = (_list(k, attrs[k]) for k in ("starts", "stops", "steps"))
    if not len(starts) == len(stops) == len(steps) == src.ndim:
        raise IRTypeError(f"starts/stops/steps need one entry per dim of {src}")
    for d, a, b, c in zip(src.shape, starts, stops, steps):
        if isinstance(d, str) or isinstance(b, str):
            if (a, b, c) != (0, d, 1):
                raise IRTypeError(f"a symbolic dim {d} can only be taken whole, not {a}:{b}:{c}")
            continue
        c = _int("steps", c)
        lo, hi = (0, d) if c > 0 else (-1, d - 1)
        if c == 0 or not (lo <= _int("starts", a) <= hi and lo <= _int("stops", b) <= hi):
            raise IRTypeError(f"slice {a}:{b}:{c} reaches outside a dim of size {d}")
