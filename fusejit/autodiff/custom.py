"""``custom_vjp`` / ``custom_jvp``: the user's own derivative for a function (``tf.custom_gradient``).

Inside a trace, the function's outputs become aliases marked with the user's backward rule
(marks.py), so the reverse walk calls that rule instead of differentiating the function's body.
A ``custom_jvp`` rule becomes a backward rule by transposition: the tangent map it defines is
linear in the tangents, so its VJP with respect to them is the backward (as forward.py does for
whole graphs). Outside a trace, the function runs as plain NumPy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..ir import Node
from ..ir.build import zeros
from ..ir.dtypes import is_float
from ..ir.registry import GradientError
from ..tracer.array import TracedArray
from ..tracer.pytree import flatten, unflatten
from .api import as_traced, tracing
from .forward import check_free_of, placeholder
from .marks import CustomGroup, custom_outputs
from .reverse import vjp_nodes


def _leaves(args: tuple, what: str) -> tuple[list[TracedArray], Any]:
    leaves, tree = flatten(args)
    return [as_traced(v, f"{what} {p}") for p, v in leaves], tree


def _wrap(group: CustomGroup, out: Any) -> Any:
    leaves, tree = flatten(out)
    outs = [as_traced(v, f"output {p or 0}") for p, v in leaves]
    return unflatten(tree, [TracedArray(n) for n in custom_outputs(group, [o.node for o in outs])])


class custom_vjp:  # noqa: N801  (a decorator, named like JAX's and used like a function)
    """``@custom_vjp`` on ``f(*args)``, then ``f.defvjp(fwd, bwd)``: ``fwd(*args)`` returns
    ``(out, residuals)``; ``bwd(residuals, cotangent_of_out)`` returns a tuple with one cotangent
    per positional argument (same structure as the argument; None for no gradient)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._in_fwd = False  # fwd may call the function itself (JAX's idiom): then it is plain

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> custom_vjp:
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args: Any) -> Any:
        if not tracing() or self._in_fwd:
            return self.fn(*args)
        if self.fwd is None or self.bwd is None:
            raise GradientError(f"custom_vjp {self.__name__}: call {self.__name__}.defvjp(fwd, bwd) before using it")
        inputs, _ = _leaves(args, "argument")
        self._in_fwd = True
        try:
            out, res = self.fwd(*args)
        finally:
            self._in_fwd = False
        out_tree = flatten(out)[1]
        name, bwd = self.__name__, self.bwd

        def backward(cts: list[Node | None]) -> list[Node | None]:
            nodes = [c if c is not None else zeros(o) for c, o in zip(cts, group.outputs)]
            got = bwd(res, unflatten(out_tree, [TracedArray(n) for n in nodes]))
            if not isinstance(got, tuple) or len(got) != len(args):
                raise GradientError(f"custom_vjp {name}: the backward rule must return a tuple with one cotangent "
                                    f"per positional argument ({len(args)}), got {type(got).__name__}")
            flat: list[Node | None] = []
            for arg, g in zip(args, got):
                n_leaves = len(flatten(arg)[0])
                if g is None:
                    flat += [None] * n_leaves
                    continue
                g_leaves = flatten(g)[0]
                if len(g_leaves) != n_leaves:
                    raise GradientError(f"custom_vjp {name}: a cotangent's structure differs from its argument's")
                flat += [None if v is None else as_traced(v, f"cotangent {p}").node for p, v in g_leaves]
            return flat

        group = CustomGroup([x.node for x in inputs], backward)
        return _wrap(group, out)


class custom_jvp:  # noqa: N801
    """``@custom_jvp`` on ``f(*args)``, then ``@f.defjvp`` on ``rule(primals, tangents)`` returning
    ``(out, tangent_out)``, linear in the tangents. Reverse mode transposes the rule."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        self.rule: Callable[..., Any] | None = None

    def defjvp(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        self.rule = rule
        return rule

    def __call__(self, *args: Any) -> Any:
        if not tracing():
            return self.fn(*args)
        if self.rule is None:
            raise GradientError(f"custom_jvp {self.__name__}: decorate its rule with @{self.__name__}.defjvp")
        inputs, in_tree = _leaves(args, "argument")
        out = self.fn(*args)
        name, rule = self.__name__, self.rule

        def backward(cts: list[Node | None]) -> list[Node | None]:
            free = [placeholder(x.node, "tangent") for x in inputs if is_float(x.dtype)]
            it = iter(free)
            tangents = unflatten(in_tree, [TracedArray(next(it)) if is_float(x.dtype) else x for x in inputs])
            _, t_out = rule(args, tuple(tangents))
            touts = [as_traced(v, f"tangent output {p or 0}").node for p, v in flatten(t_out)[0]]
            live = [(t, c) for t, c in zip(touts, cts) if c is not None]
            res = vjp_nodes([t for t, _ in live], [c for _, c in live], free)
            check_free_of(res, free, f"the custom_jvp rule of {name}")
            it2 = iter(res)
            return [next(it2) if is_float(x.dtype) else None for x in inputs]

        group = CustomGroup([x.node for x in inputs], backward)
        return _wrap(group, out)
