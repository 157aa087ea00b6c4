"""Branches on traced data, taken as the first call's data says and checked at every call.

Library code validates its input with Python control flow on the data: ``if not
np.isfinite(X).all(): raise ValueError(...)`` (scikit-learn's ``check_array``), ``if (x < 0).any():``
(SciPy's means), ``if not (pos.any() and neg.any()): return nan``. A tracer cannot follow such a
branch from shapes alone. When the trace runs for a call whose arguments are known (the first call
of a signature), the truth value (or ``int()``) is computed from those arguments with the ops' NumPy
references, the branch is followed, and the value becomes a *guard*: an extra boolean output of the
program, "this value is what it was when traced". A call whose guard fails did not take the traced
path, so its compiled result is discarded and the function runs as written, with NumPy (raising
scikit-learn's ValueError for a NaN input, or taking the other branch): never a wrong answer, at
worst NumPy's speed for inputs that branch differently.

Only bools and integers are speculated (``float(x.sum())`` would bake a value that changes with
every input); programs that also read live state or Variables keep the old error (their stores
would have to be undone when a guard fails).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Node, constant, make

_UNKNOWN = ("philox",)


class BranchChanged(Exception):
    """A guard of the compiled program failed: run the function as written instead."""


def speculate(node: Node, message: str) -> np.ndarray | None:
    """The value of ``node`` for the arguments of the call being traced, recorded as a guard, or None
    when they are not known (``lower``/``freeze`` with specs, live state, random bits)."""
    from ..ir.evaluator import run_node
    from .context import current

    ctx = current()
    if ctx is None or ctx.examples is None or node.dtype.kind not in "biu":
        return None
    memo: dict[int, Any] = ctx.example_values
    stack = [node]
    while stack:
        n = stack[-1]
        if id(n) in memo:
            stack.pop()
            continue
        if n.op == "input":
            if id(n) not in ctx.examples:
                return None
            memo[id(n)] = np.asarray(ctx.examples[id(n)])
            continue
        if n.op in _UNKNOWN:
            return None
        todo = [a for a in n.args if id(a) not in memo]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        memo[id(n)] = n.attrs["value"] if n.op == "constant" else run_node(n, [memo[id(a)] for a in n.args], {})
    value = np.asarray(memo[id(node)])
    ctx.guards.append((node, value, message))
    return value


def guard_outputs(guards: list[tuple[Node, np.ndarray, str]]) -> list[Node]:
    """One 0-d bool output per guard: every element equals its traced value."""
    out = []
    for node, value, _ in guards:
        same = make("eq", node, constant(value, node.dtype))
        out.append(make("reduce_min", same, axes=list(range(node.ndim))) if node.ndim else same)  # all()
    return out
