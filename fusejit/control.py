"""Structured control flow: ``cond``, ``switch``, ``fori_loop``, ``while_loop``, ``scan``.

The design is the narrow sound one (issue 20 proposes regions in the IR; this is what ships
first), chosen so that no result can differ from running the same Python:

- Outside a trace, and inside one whenever the predicate, index, bounds or loop condition are
  concrete Python/NumPy values, each function just runs the Python it stands for (only the chosen
  branch runs; a loop runs its body in Python, i.e. it is unrolled into the trace).
- ``cond``/``switch`` on a *traced* predicate or index trace every branch on the same operands
  and select each result leaf with ``np.where`` (JAX's ``cond`` under ``vmap`` does the same).
  Branches must return the same structure, shapes and dtypes; ``fusejit.Variable`` updates
  inside them are merged the same way (a variable assigned in one branch keeps its old value
  from the other). What cannot be merged is refused: stores to Python objects (live state)
  inside a branch. Because both branches run, an error the untaken branch would raise at run
  time (an out-of-bounds gather, an integer to a negative power) is raised — loud, never wrong.
- Loops whose trip count or condition depends on traced data are refused with
  :class:`~fusejit.tracer.errors.ConcretizationError`: compiling them needs loops in the IR.
  Static loops unroll completely: compile time grows with the trip count (no limit is imposed;
  this is what a Python ``for`` over a ``range`` already does).
- Gradients follow from the above: ``where`` and unrolled bodies are differentiable, so reverse
  mode through ``cond``/``switch``/``fori_loop``/``scan`` stores every carry.

A loop-carried value that changes structure, shape or dtype between iterations is an error
naming the leaf, as are branches that disagree.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .tracer.array import TracedArray
from .tracer.context import current
from .tracer.errors import ConcretizationError, SideEffectError, TracingError
from .tracer.pytree import flatten, unflatten


def _traced(x: Any) -> bool:
    return isinstance(x, TracedArray)


def _signature(tree: Any) -> tuple[Any, list[tuple[str, tuple, np.dtype | None]]]:
    """Structure and per-leaf (path, shape, dtype) of a pytree (dtype None: a Python value)."""
    leaves, treedef = flatten(tree)
    sig = []
    for path, leaf in leaves:
        if _traced(leaf) or isinstance(leaf, (np.ndarray, np.generic)):
            sig.append((path, tuple(leaf.shape), np.dtype(leaf.dtype)))
        else:
            sig.append((path, (), None))
    return treedef, sig


def _same_signature(what: str, a: Any, b: Any, first: str, second: str) -> None:
    (ta, sa), (tb, sb) = _signature(a), _signature(b)
    if ta != tb:
        raise TracingError(f"{what}: {first} and {second} return different structures; every branch / "
                           f"iteration must return the same nesting of arrays")
    for (path, shape_a, dt_a), (_, shape_b, dt_b) in zip(sa, sb):
        if (shape_a, dt_a) != (shape_b, dt_b):
            def fmt(shape: tuple, dt: np.dtype | None) -> str:
                return "a Python value" if dt is None else f"shape {shape} dtype {dt}"
            raise TracingError(f"{what}: leaf {path or 'result'} is {fmt(shape_a, dt_a)} in {first} but "
                               f"{fmt(shape_b, dt_b)} in {second}; it must keep its shape and dtype")


def _concrete_scalar(what: str, x: Any) -> Any:
    """``x`` as a concrete Python scalar, or None when it is traced."""
    if _traced(x):
        if x.shape != ():
            raise TracingError(f"{what}: expected a scalar, got an array of shape {x.shape}")
        return None
    arr = np.asarray(x)
    if arr.shape != ():
        raise TracingError(f"{what}: expected a scalar, got an array of shape {arr.shape}")
    return arr.item()


def condition(what: str, pred: TracedArray) -> Any:
    """A traced scalar as a traced bool, as Python's ``bool()`` reads it (nonzero is true)."""
    if pred.shape != ():
        raise TracingError(f"{what}: the truth value of an array of shape {pred.shape} is ambiguous; "
                           "reduce it with .any() or .all()")
    return pred if pred.dtype == np.bool_ else pred != 0


class _Branch:
    """One branch traced inside the current trace, with its Variable updates taken back out
    (so the next branch starts from the same state) for :func:`_merge_variables`."""

    def __init__(self, what: str, fn: Callable[..., Any], operands: Sequence[Any]) -> None:
        ctx = current()
        assert ctx is not None
        before_vars, before_updates = dict(ctx.variables), dict(ctx.updates)
        effects = len(ctx.live.effects) if ctx.live is not None else 0
        self.result = fn(*operands)
        if ctx.live is not None and len(ctx.live.effects) != effects:
            raise SideEffectError(f"{what}: a branch on a traced value stores into Python objects "
                                  f"({ctx.live.effects[effects][0]} on {type(ctx.live.effects[effects][1]).__name__}); "
                                  "only fusejit.Variable updates can be merged across branches")
        self.assigned: dict[int, tuple[Any, Any]] = {}
        for vid in ctx.updates:
            if ctx.variables[vid] is not before_vars.get(vid):
                self.assigned[vid] = ctx.variables[vid]
                var = ctx.variables[vid][0]
                ctx.variables[vid] = before_vars[vid] if vid in before_vars else \
                    (var, TracedArray(ctx.reads[vid], label=f"Variable {var.name}"))
        ctx.updates.clear()
        ctx.updates.update(before_updates)


def _merge_variables(branches: list[_Branch], select: Callable[[list[Any]], Any]) -> None:
    ctx = current()
    assert ctx is not None
    ids = {vid: b.assigned[vid][0] for b in branches for vid in b.assigned}
    for vid, var in ids.items():
        now = ctx.variables[vid][1]
        var.assign(select([b.assigned[vid][1] if vid in b.assigned else now for b in branches]))


def _select_trees(what: str, results: list[Any], select: Callable[[list[Any]], Any], names: list[str]) -> Any:
    for r, name in zip(results[1:], names[1:]):
        _same_signature(what, results[0], r, names[0], name)
    columns = [[leaf for _, leaf in flatten(r)[0]] for r in results]
    treedef = flatten(results[0])[1]
    out = []
    for leaves in zip(*columns):
        if all(not _traced(x) and not isinstance(x, (np.ndarray, np.generic)) for x in leaves):
            if any(x != leaves[0] for x in leaves[1:]):
                raise TracingError(f"{what}: a Python value result differs between branches "
                                   f"({leaves[0]!r} vs others); return arrays to select at run time")
            out.append(leaves[0])
        else:
            out.append(select(list(leaves)))
    return unflatten(treedef, out)


def cond(pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], *operands: Any) -> Any:
    """``true_fn(*operands) if pred else false_fn(*operands)``. A traced ``pred`` (a scalar)
    traces both branches and selects their results (see the module doc)."""
    value = _concrete_scalar("fusejit.cond predicate", pred)
    if value is not None:
        return (true_fn if value else false_fn)(*operands)
    flag = condition("fusejit.cond predicate", pred)
    branches = [_Branch("fusejit.cond", fn, operands) for fn in (true_fn, false_fn)]

    def select(pair: list[Any]) -> Any:
        return np.where(flag, pair[0], pair[1])

    _merge_variables(branches, select)
    return _select_trees("fusejit.cond", [b.result for b in branches], select, ["true_fn", "false_fn"])


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)`` with ``index`` clamped to ``[0, len(branches) - 1]`` (as
    ``jax.lax.switch``). A traced integer ``index`` traces every branch and selects."""
    fns = list(branches)
    if not fns:
        raise TracingError("fusejit.switch: needs at least one branch")
    value = _concrete_scalar("fusejit.switch index", index)
    if value is not None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TracingError(f"fusejit.switch: the index must be an integer, got {value!r}")
        return fns[min(max(operator.index(value), 0), len(fns) - 1)](*operands)
    if index.dtype.kind not in "iu":
        raise TracingError(f"fusejit.switch: the index must be an integer, got dtype {index.dtype}")
    clamped = np.clip(index, 0, len(fns) - 1)
    traced = [_Branch("fusejit.switch", fn, operands) for fn in fns]

    def select(values: list[Any]) -> Any:
        out = values[-1]
        for i in range(len(values) - 2, -1, -1):
            out = np.where(clamped == i, values[i], out)
        return out

    _merge_variables(traced, select)
    return _select_trees("fusejit.switch", [b.result for b in traced], select,
                         [f"branch {i}" for i in range(len(fns))])


def _static_int(what: str, x: Any) -> int:
    if _traced(x):
        raise ConcretizationError(f"{what} depends on traced array data; this build compiles loops with "
                                  "static trip counts only (they are unrolled). Pass Python ints, or run "
                                  "the loop outside the jitted function")
    try:
        return operator.index(x)
    except TypeError:
        raise TracingError(f"{what} must be an integer, got {x!r}") from None


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns ``val``. The
    bounds must be static (Python ints): the loop is unrolled, ``i`` is a Python int."""
    lo = _static_int("fusejit.fori_loop lower bound", lower)
    hi = _static_int("fusejit.fori_loop upper bound", upper)
    val = init_val
    for i in range(lo, hi):
        new = body_fun(i, val)
        _same_signature("fusejit.fori_loop", val, new, "the carried value", f"body_fun's result (i={i})")
        val = new
    return val


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``. The condition must come out concrete at every
    step (it may depend on Python values carried along, never on traced array data)."""
    val = init_val
    step = 0
    while True:
        c = cond_fun(val)
        if _traced(c):
            raise ConcretizationError(
                f"fusejit.while_loop: the condition at step {step} depends on traced array data; this build "
                "cannot compile data-dependent loops (no loops in the IR yet). Use fori_loop with a static "
                "trip count, or run the loop outside the jitted function")
        if not _concrete_scalar("fusejit.while_loop condition", c):
            return val
        new = body_fun(val)
        _same_signature("fusejit.while_loop", val, new, "the carried value", f"body_fun's result (step {step})")
        val = new
        step += 1


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False) -> tuple[Any, Any]:
    """``jax.lax.scan``: ``carry, y = f(carry, x)`` over the leading axis of ``xs`` (a pytree of
    arrays, or None with ``length``); returns the final carry and the ``y``s stacked. Unrolled."""
    leaves, treedef = flatten(xs)
    sizes = set()
    for path, leaf in leaves:
        shape = tuple(np.shape(leaf)) if not _traced(leaf) else tuple(leaf.shape)
        if not shape:
            raise TracingError(f"fusejit.scan: xs leaf {path or 'xs'} is a scalar; it needs a leading axis to scan")
        if not isinstance(shape[0], int):
            raise ConcretizationError(f"fusejit.scan: xs leaf {path or 'xs'} has a symbolic leading dimension "
                                      f"{shape[0]!r}; this build unrolls scans and needs a static length")
        sizes.add(shape[0])
    if length is not None:
        sizes.add(_static_int("fusejit.scan length", length))
    if len(sizes) != 1:
        raise TracingError("fusejit.scan: " + ("give xs or length" if not sizes else
                                               f"the leading dimensions disagree: {sorted(sizes)}"))
    n = sizes.pop()
    carry, ys = init, []
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        x = unflatten(treedef, [leaf[i] for _, leaf in leaves]) if leaves else None
        new, y = f(carry, x)
        _same_signature("fusejit.scan", carry, new, "the carry", f"f's new carry (step {i})")
        if ys:
            _same_signature("fusejit.scan", ys[0], y, "the first y", f"the y of step {i}")
        carry = new
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    columns = [[leaf for _, leaf in flatten(y)[0]] for y in ys]
    stacked = [np.stack([np.asarray(v) if not _traced(v) else v for v in col]) for col in zip(*columns)]
    return carry, unflatten(flatten(ys[0])[1], stacked)


__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]
