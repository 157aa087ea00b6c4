"""Graph verifier: the invariants every pass must preserve."""

from __future__ import annotations

import numpy as np

from .dtypes import SHORT_NAMES
from .graph import Graph
from .registry import IRTypeError, check_arity, get_op


class VerificationError(ValueError):
    """A malformed graph; the message names the offending node."""


def verify(graph: Graph) -> None:
    defined: set[int] = set()
    for i, node in enumerate(graph.inputs):
        if node.op != "input":
            raise VerificationError(f"input {i} is a {node.op} node, not an input")
        if node.type.dtype not in SHORT_NAMES:
            raise VerificationError(f"input {i} has unsupported dtype {node.type.dtype}")
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
            if node.op == "constant" and not isinstance(node.attrs["value"], np.ndarray):
                raise IRTypeError("constant value must be an ndarray")
            inferred = opdef.infer([a.type for a in node.args], node.attrs)
        except (TypeError, ValueError, KeyError) as exc:
            raise VerificationError(f"{where}: {exc}") from None
        if inferred != node.type:
            raise VerificationError(f"{where}: declared type {node.type} but the op gives {inferred}")
        defined.add(id(node))
    for o in graph.outputs:
        if id(o) not in defined:
            raise VerificationError(f"output {o!r} is not defined in the graph")
