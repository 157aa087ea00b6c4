"""Reverse mode on the IR: ``vjp_nodes(outputs, cotangents, wrt)`` builds the nodes of Jᵀu.

A walk over the nodes between ``wrt`` and ``outputs`` in reverse topological order: each node's
cotangent (the sum of what its users sent it) goes through the op's registered rule
(``OpDef.vjp``), which returns one cotangent per operand as ordinary IR. Only float nodes that
depend on ``wrt`` take part (integers, bools and constants get no gradient).

Masks keep ``np.where`` honest. The cotangent a ``where`` sends into a branch is exactly zero
where that branch was not taken, but a rule multiplies it by a local derivative that may be
inf or NaN there (``where(x > 0, log(x), 0)`` at ``x = 0``: 0 · (1/0) = NaN). So a branch's
cotangent carries the ``where``'s condition as a mask of the positions where it may be nonzero;
every elementwise rule under it re-applies the mask to what it returns (``where(m, r, 0)``) and
passes it on; a non-elementwise op ends it. The masks are forward values, so the backward stays
linear in the cotangent (forward mode transposes it, see forward.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Node, get_op, make, topo_order
from ..ir.build import add, where, zeros
from ..ir.dtypes import is_float
from ..ir.registry import GradientError
from .marks import custom_group, is_stopped

# rules that map a zero cotangent to an exact zero whatever the operands: no re-masking needed
_EXACT_ZERO = frozenset({"add", "sub", "neg", "cast", "where"})


@dataclass
class _Cot:
    value: Node
    live: Node | None  # bool mask of the positions where the cotangent may be nonzero; None: all


def _merge(old: _Cot | None, new: _Cot) -> _Cot:
    if old is None:
        return new
    live = None if old.live is None or new.live is None else make("or", old.live, new.live)
    return _Cot(add(old.value, new.value), live)


def active_nodes(order: Sequence[Node], wrt: Sequence[Node]) -> set[int]:
    """ids of the float nodes that depend on ``wrt`` (through nodes that are not stopped)."""
    active = {id(w) for w in wrt}
    for n in order:
        if id(n) in active or is_stopped(n) or not is_float(n.dtype):
            continue
        group = custom_group(n)
        sources = group.inputs if group is not None else n.args
        if any(id(a) in active for a in sources):
            active.add(id(n))
    return active


def vjp_nodes(outputs: Sequence[Node], cotangents: Sequence[Node | None], wrt: Sequence[Node]) -> list[Node | None]:
    """The cotangent of each ``wrt`` node (None: zero) given one cotangent per output."""
    order = topo_order(outputs)
    active = active_nodes(order, wrt)
    cts: dict[int, _Cot] = {}
    for o, c in zip(outputs, cotangents):
        if c is not None and id(o) in active:
            cts[id(o)] = _merge(cts.get(id(o)), _Cot(c, None))
    position = {id(n): i for i, n in enumerate(order)}
    for n in reversed(order):
        group = custom_group(n)
        if group is not None:
            # one backward call per group, at its first output in program order (all of the
            # group's outputs have their full cotangents by then)
            outs = [o for o in group.outputs if id(o) in position]
            if outs and min(position[id(o)] for o in outs) == position[id(n)]:
                _run_custom(group, cts, active)
            continue
        ct = cts.get(id(n))
        if ct is None or n.op in ("input", "constant") or not n.args:
            continue
        opdef = get_op(n.op)
        if opdef.nondiff:
            continue
        if opdef.vjp is None:
            raise GradientError(
                f"no gradient rule for op {n.op!r} (in {n!r}): it is not differentiable in fusejit yet; wrap "
                "the part that uses it in fusejit.stop_gradient, or give it a rule with fusejit.custom_vjp")
        arg_cts = opdef.vjp(ct.value, n)
        mask = ct.live if opdef.fusion == "elementwise" else None
        live: list[Node | None] = [mask] * len(n.args)
        if n.op == "where":
            cond = n.args[0]
            taken = [None, cond, make("not", cond)]
            live = [t if mask is None or t is None else make("and", mask, t) for t in taken]
        for i, (a, c) in enumerate(zip(n.args, arg_cts)):
            if c is None or id(a) not in active:
                continue
            if mask is not None and n.op not in _EXACT_ZERO:
                c = where(mask, c, zeros(c))
            cts[id(a)] = _merge(cts.get(id(a)), _Cot(c, live[i]))
    return [cts[id(w)].value if id(w) in cts else None for w in wrt]


def _run_custom(group: object, cts: dict[int, _Cot], active: set[int]) -> None:
    from .marks import CustomGroup

    assert isinstance(group, CustomGroup)
    out_cts = [cts[id(o)].value if id(o) in cts else None for o in group.outputs]
    if all(c is None for c in out_cts):
        return
    for a, c in zip(group.inputs, group.backward(out_cts)):
        if c is None or id(a) not in active:
            continue
        if c.type != a.type:
            raise GradientError(f"custom_vjp: the backward rule returned a cotangent of type {c.type} for an "
                                f"input of type {a.type}; they must match")
        cts[id(a)] = _merge(cts.get(id(a)), _Cot(c, None))
