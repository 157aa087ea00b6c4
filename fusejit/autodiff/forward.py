"""Forward mode as the transpose of reverse mode: ``jvp_nodes(outputs, wrt, tangents)`` builds J v.

The backward ``u ↦ Jᵀu`` that reverse.py builds is linear in the cotangent ``u`` (every rule is,
and the where-masks are forward values), so its own VJP at any ``u``, applied to ``v``, is
``(Jᵀ)ᵀ v = J v``. The cotangents ``u`` are placeholder nodes that the second walk differentiates
away: the result never reads them, and dead-code elimination drops the first backward's unused
parts. One rule per primitive serves both modes (see the package docstring for why).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ir import Node, topo_order
from ..ir.dtypes import is_float
from ..ir.registry import GradientError
from .reverse import vjp_nodes


def placeholder(like: Node, name: str) -> Node:
    """A free value of ``like``'s type that must not survive into the result."""
    return Node("input", (), {}, like.type, name=name)


def check_free_of(results: Sequence[Node | None], placeholders: Sequence[Node], what: str) -> None:
    ids = {id(p) for p in placeholders}
    if any(id(n) in ids for n in topo_order([r for r in results if r is not None])):
        raise GradientError(f"{what} is not linear in its tangents/cotangents, so it cannot be transposed")


def jvp_nodes(outputs: Sequence[Node], wrt: Sequence[Node], tangents: Sequence[Node | None]) -> list[Node | None]:
    """The tangent of each output (None: zero) for the tangents of ``wrt``."""
    us = [placeholder(o, "cotangent") if is_float(o.dtype) else None for o in outputs]
    backward = vjp_nodes(outputs, us, wrt)
    pairs = [(c, t) for c, t in zip(backward, tangents) if c is not None and t is not None]
    live = [u for u in us if u is not None]
    result = vjp_nodes([c for c, _ in pairs], [t for _, t in pairs], live) if pairs else [None] * len(live)
    check_free_of(result, live, "the backward graph (an internal error)")
    it = iter(result)
    return [next(it) if u is not None else None for u in us]
