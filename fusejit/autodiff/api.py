"""The function transforms users call: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacobian``,
``hessian``, ``stop_gradient``.

Each has one traced implementation that runs *inside* a trace: the arguments to differentiate
become fresh alias nodes, the user's function is traced inline on them (so closures over other
traced values count as constants, and nested transforms compose), and reverse.py/forward.py
append the derivative to the same graph. Called with NumPy arrays, a transform compiles that
traced implementation with ``jit`` (one program for value and gradient, cached per signature);
``grad(jit(f))`` and ``jit(grad(f))`` therefore build the same graph.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir import Node, constant, make
from ..ir.build import zeros
from ..ir.dtypes import is_float
from ..ir.registry import GradientError
from ..ir.shapes import format_shape
from ..tracer.array import TracedArray, Weak, lift
from ..tracer.context import current
from ..tracer.pytree import flatten, unflatten
from ..tracer.variables import Variable
from .forward import jvp_nodes
from .marks import alias, stop
from .reverse import vjp_nodes


def tracing() -> bool:
    return current() is not None


def as_traced(value: Any, what: str) -> TracedArray:
    """A traced array for an argument leaf (NumPy values and Python scalars become constants)."""
    if isinstance(value, Variable):
        value = value.read()
    op = lift(value, what)
    if isinstance(op, Weak):
        return TracedArray(constant(np.asarray(op.value)))
    return op


def _fn_name(f: Any) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _param_names(f: Any, n: int) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i}" for i in range(n)]


class _Diff:
    """The differentiated leaves of some arguments: alias nodes standing in for them, and how to
    rebuild per-argument trees of derivative values."""

    def __init__(self, f: Any, args: Sequence[Any], argnums: Sequence[int], what: str) -> None:
        names = _param_names(f, len(args))
        self.args = list(args)
        self.nodes: list[Node] = []
        self.trees: list[Any] = []
        for i in argnums:
            if not -len(args) <= i < len(args):
                raise GradientError(f"{what}: argnums {i} is out of range for {_fn_name(f)} called with "
                                    f"{len(args)} positional argument(s)")
            leaves, tree = flatten(args[i], names[i])
            new = []
            for path, value in leaves:
                x = as_traced(value, f"argument {path!r}")
                if not is_float(x.dtype):
                    raise GradientError(
                        f"{what} of {_fn_name(f)} with respect to argument {path!r}: its dtype is {x.dtype}, and "
                        "integers and bools have no gradient. Differentiate with respect to float arguments only "
                        "(argnums), or pass it as a float array (x.astype(float)).")
                node = alias(x.node)
                self.nodes.append(node)
                new.append(TracedArray(node, is_argument=True, label=path))
            self.trees.append(tree)
            self.args[i] = unflatten(tree, new)

    def rebuild(self, values: Sequence[Node | None], single: bool) -> Any:
        """Per-argument trees of traced arrays (zeros where ``values`` has None)."""
        it = iter(TracedArray(v if v is not None else zeros(n)) for v, n in zip(values, self.nodes))
        trees = [unflatten(t, it) for t in self.trees]
        return trees[0] if single else tuple(trees)


def _argnums(argnums: int | Sequence[int]) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int):
        return (argnums,), True
    return tuple(argnums), False


def _split_aux(out: Any, has_aux: bool, f: Any) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise GradientError(f"{_fn_name(f)} was differentiated with has_aux=True, so it must return a pair "
                            "(output, aux)")
    return out[0], out[1]


def _scalar_output(value: Any, f: Any, what: str) -> TracedArray:
    x = as_traced(value, f"the output of {_fn_name(f)}")
    if x.node.shape != ():
        raise GradientError(f"{what} of {_fn_name(f)}: the output has shape {format_shape(x.node.shape)}, but {what} "
                            "needs a scalar output; use fusejit.vjp for non-scalar outputs (or reduce it, e.g. "
                            ".sum())")
    if not is_float(x.dtype):
        raise GradientError(f"{what} of {_fn_name(f)}: the output has dtype {x.dtype}; only float outputs have "
                            "gradients")
    return x


def ones_like(node: Node) -> Node:
    one = constant(np.array(1, node.dtype))
    return one if node.shape == () else make("broadcast", one, shape=list(node.shape))


def _concrete(traced: Callable[..., Any], f: Any, argnums: Sequence[int] | None) -> Callable[..., Any]:
    """``traced`` when called inside a trace; otherwise compiled with jit (created on first use).
    Python scalars among the differentiated arguments become float64 arrays (jit would make
    them static constants)."""
    from ..driver import JitFunction

    functools.update_wrapper(traced, f, updated=())  # not f.__dict__: a JitFunction's state stays its own
    compiled: list[Any] = []

    @functools.wraps(f, updated=())
    def call(*args: Any, **kwargs: Any) -> Any:
        if tracing():
            return traced(*args, **kwargs)
        if not compiled:  # grad(jit(f, ...)) compiles with jit's options
            options = {"static_argnames": tuple(f.static_names), "fuse": f.fuse, "device": f.device,
                       "threads": f.threads, "backend": f.backend, "fast_math": f.fast_math} \
                if isinstance(f, JitFunction) else {}
            compiled.append(JitFunction(traced, **options))
        if argnums is not None and not all(type(a) is np.ndarray for a in args):
            args = tuple(_array_leaves(a) if i in argnums or i - len(args) in argnums else a
                         for i, a in enumerate(args))
        return compiled[0](*args, **kwargs)

    return call


_COMPILED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _as_user(wrapper: Any, f: Any) -> Any:
    """``wrapper`` named after ``f`` (module included): live state then walks its closure to ``f``'s
    state (arrays, generators) instead of skipping it as fusejit's own code."""
    for attr in ("__module__", "__name__", "__qualname__"):  # not __wrapped__: the signature stays the wrapper's
        if hasattr(f, attr):
            setattr(wrapper, attr, getattr(f, attr))
    return wrapper


def _cached(f: Any, kind: str, make_fn: Callable[[], Any]) -> Any:
    """One compiled transform per function and kind, so repeated ``vjp(f, x)`` / ``jvp(f, ...)``
    calls reuse its programs (each program still caches per signature)."""
    try:
        per_fn = _COMPILED.setdefault(f, {})
    except TypeError:  # not weakly referenceable: compile per call
        return make_fn()
    if kind not in per_fn:
        per_fn[kind] = make_fn()
    return per_fn[kind]


def _array_leaves(tree: Any) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [np.asarray(v) if isinstance(v, (bool, int, float)) else v for _, v in leaves])


# ---- the transforms ------------------------------------------------------------------------

def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """``f``'s value and its gradient with respect to the arguments ``argnums`` (same tree
    structure as each argument), computed by one compiled program; ``has_aux``: ``f`` returns
    ``(value, aux)`` and the result is ``((value, aux), grads)``."""
    return _grad_transform(f, argnums, has_aux, with_value=True)


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of scalar-valued ``f`` with respect to the arguments ``argnums``
    (``(grads, aux)`` with ``has_aux``). Its program does not return the value, so the parts of
    the forward pass that only the value needs are dead code."""
    return _grad_transform(f, argnums, has_aux, with_value=False)


def _grad_transform(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: bool,
                    with_value: bool) -> Callable[..., Any]:
    nums, single = _argnums(argnums)

    def traced(*args: Any, **kwargs: Any) -> Any:
        diff = _Diff(f, args, nums, "grad")
        value, aux = _split_aux(f(*diff.args, **kwargs), has_aux, f)
        v = _scalar_output(value, f, "grad")
        grads = diff.rebuild(vjp_nodes([v.node], [ones_like(v.node)], diff.nodes), single)
        if with_value:
            return ((v, aux), grads) if has_aux else (v, grads)
        return (grads, aux) if has_aux else grads

    return _concrete(traced, f, nums)


def _float_outputs(out: Any, f: Any) -> tuple[list[TracedArray], Any]:
    leaves, tree = flatten(out)
    return [as_traced(v, f"output {p or 0} of {_fn_name(f)}") for p, v in leaves], tree


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """``(f(*primals), pullback)`` where ``pullback(cotangent)`` (a tree like the output) returns
    one cotangent per primal; with ``has_aux``: ``(out, pullback, aux)``. Outside a trace the
    pullback runs one compiled program that recomputes the forward pass fused with the backward."""
    if tracing():
        return _vjp_traced(f, primals, has_aux)
    from ..driver import JitFunction
    from ..random.sources import recording, replaying

    fwd = _cached(f, "vjp-forward", lambda: JitFunction(_as_user(lambda *p: f(*p), f)))
    with recording() as drawn:  # np.random inside f: the pullback recomputes the forward with these samples
        out = fwd(*primals)
    back = _cached(f, f"vjp-{has_aux}",
                   lambda: JitFunction(_as_user(lambda prims, ct: _vjp_traced(f, prims, has_aux)[1](ct), f)))
    primals = tuple(_array_leaves(p) for p in primals)

    def pullback(ct: Any) -> Any:
        with replaying(drawn):
            return back(primals, ct)

    return (out[0], pullback, out[1]) if has_aux else (out, pullback)


def _vjp_traced(f: Any, primals: Sequence[Any], has_aux: bool) -> Any:
    diff = _Diff(f, primals, range(len(primals)), "vjp")
    out, aux = _split_aux(f(*diff.args), has_aux, f)
    outs, tree = _float_outputs(out, f)

    def pullback(ct: Any) -> tuple:
        leaves, ct_tree = flatten(ct)
        if ct_tree != tree:
            raise GradientError(f"vjp of {_fn_name(f)}: the cotangent's structure {ct_tree} differs from the "
                                f"output's {tree}")
        nodes = []
        for (path, c), o in zip(leaves, outs):
            node = as_traced(c, f"cotangent {path or 0}").node
            if node.shape != o.node.shape:
                raise GradientError(f"vjp of {_fn_name(f)}: cotangent {path or 0} has shape "
                                    f"{format_shape(node.shape)}, the output has {format_shape(o.node.shape)}")
            nodes.append(make("cast", node, dtype=o.dtype) if node.dtype != o.dtype else node)
        return diff.rebuild(vjp_nodes([o.node for o in outs], nodes, diff.nodes), False)

    return (out, pullback, aux) if has_aux else (out, pullback)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J·tangents)``: forward mode, tangents shaped like the primals."""
    if len(primals) != len(tangents):
        raise GradientError(f"jvp of {_fn_name(f)}: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    if tracing():
        return _jvp_traced(f, tuple(primals), tuple(tangents))
    from ..driver import JitFunction

    run = _cached(f, "jvp", lambda: JitFunction(_as_user(lambda p, t: _jvp_traced(f, p, t), f)))
    return run(tuple(_array_leaves(p) for p in primals), tuple(_array_leaves(t) for t in tangents))


def _jvp_traced(f: Any, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    diff = _Diff(f, primals, range(len(primals)), "jvp")
    tan_nodes: list[Node] = []
    for t, p in zip(tangents, primals):
        t_leaves, t_tree = flatten(t)
        p_leaves, p_tree = flatten(p)
        if t_tree != p_tree:
            raise GradientError(f"jvp of {_fn_name(f)}: a tangent's structure {t_tree} differs from its primal's "
                                f"{p_tree}")
        for (path, tv), (_, pv) in zip(t_leaves, p_leaves):
            tn, pn = as_traced(tv, f"tangent {path}").node, as_traced(pv, f"primal {path}").node
            if tn.shape != pn.shape:
                raise GradientError(f"jvp of {_fn_name(f)}: tangent {path!r} has shape {format_shape(tn.shape)}, "
                                    f"its primal {format_shape(pn.shape)}")
            tan_nodes.append(make("cast", tn, dtype=pn.dtype) if tn.dtype != pn.dtype else tn)
    out = f(*diff.args)
    outs, tree = _float_outputs(out, f)
    result = jvp_nodes([o.node for o in outs], diff.nodes, tan_nodes)
    tangent_out = [TracedArray(r if r is not None else zeros(o.node)) for r, o in zip(result, outs)]
    return out, unflatten(tree, tangent_out)


_JACOBIAN_LIMIT = 4096


def jacobian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The full Jacobian of array-valued ``f`` with respect to argument ``argnums``, shaped
    ``out.shape + arg.shape``: one reverse pass per output element, so for small outputs only
    (at most 4096 elements)."""

    def traced(*args: Any, **kwargs: Any) -> Any:
        diff = _Diff(f, args, (argnums,), "jacobian")
        if len(diff.nodes) != 1:
            raise GradientError(f"jacobian of {_fn_name(f)}: argument {argnums} must be one array, not a tree")
        (x,) = diff.nodes
        out = as_traced(f(*diff.args, **kwargs), f"the output of {_fn_name(f)}")
        return TracedArray(jacobian_nodes(out.node, x, _fn_name(f)))

    return _concrete(traced, f, (argnums,))


def jacobian_nodes(out: Node, x: Node, name: str) -> Node:
    """d out / d x as one node of shape ``out.shape + x.shape`` (rows stacked)."""
    if not out.type.is_static or not x.type.is_static:
        raise GradientError(f"jacobian of {name}: dynamic shapes are not supported")
    m = int(np.prod(out.shape, dtype=np.int64))
    if m > _JACOBIAN_LIMIT:
        raise GradientError(f"jacobian of {name}: the output has {m} elements; jacobian builds one reverse pass "
                            f"per element and stops at {_JACOBIAN_LIMIT}. Use vjp/jvp for large outputs")
    if not is_float(out.dtype):
        raise GradientError(f"jacobian of {name}: the output has dtype {out.dtype}; only float outputs have "
                            "derivatives")
    rows = []
    for i in range(m):
        e = np.zeros(out.shape, out.dtype)
        e.flat[i] = 1
        (row,) = vjp_nodes([out], [constant(e)], [x])
        rows.append(make("reshape", row if row is not None else zeros(x), shape=[1, *x.shape]))
    if not rows:
        return make("broadcast", constant(np.zeros((), x.dtype)), shape=[*out.shape, *x.shape])
    stacked = rows[0] if len(rows) == 1 else make("concat", *rows, axis=0)
    return make("reshape", stacked, shape=[*out.shape, *x.shape])


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued ``f`` with respect to argument ``argnums``: the Jacobian of
    its gradient, shaped ``arg.shape + arg.shape``."""
    return jacobian(grad(f, argnums), argnums)


def stop_gradient(x: Any) -> Any:
    """``x`` itself, but no derivative flows through it (a constant to every transform)."""
    if not tracing():
        return x
    leaves, tree = flatten(x)
    return unflatten(tree, [TracedArray(stop(as_traced(v, f"stop_gradient operand {p or 0}").node))
                            if not isinstance(v, (bool, int, float)) else v for p, v in leaves])
