"""``GradientTape``: TensorFlow's recording API, inside a jitted function.

Entering the tape re-points every watched value at a fresh alias node (marks.alias): the traced
array's node for ``tape.watch(x)``, and the current value of every ``fusejit.Variable`` (those
read before the tape at once, those first read inside it as they are read). Only operations
recorded after that point lead from the alias to the target, which is TensorFlow's rule that a
tape sees what ran while it was active. ``tape.gradient`` is then the reverse walk from the
target to those aliases, appended to the same graph (one program with the forward pass).
"""

from __future__ import annotations

from typing import Any

from ..ir import Node, make
from ..ir.build import zeros
from ..ir.dtypes import is_float
from ..ir.registry import GradientError
from ..tracer.array import TracedArray
from ..tracer.context import TraceContext, current
from ..tracer.pytree import flatten, unflatten
from ..tracer.variables import Variable
from .api import as_traced, jacobian_nodes, ones_like
from .marks import alias
from .reverse import vjp_nodes


class GradientTape:
    """``with fusejit.GradientTape() as tape: ...; tape.gradient(target, sources)``, inside a
    jitted function. ``persistent=True`` allows several ``gradient``/``jacobian`` calls."""

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self.ctx: TraceContext | None = None
        self._watched: dict[int, Node] = {}  # id(traced array or Variable) -> its alias
        self._used = False
        self._recording = False

    def __enter__(self) -> GradientTape:
        ctx = current()
        if ctx is None:
            raise GradientError("fusejit.GradientTape records the operations of a traced function: use it inside a "
                                "@fusejit.jit function (or use fusejit.grad / value_and_grad on a NumPy function)")
        self.ctx = ctx
        self._recording = True
        if self.watch_accessed_variables:
            for var, _ in list(ctx.variables.values()):
                self._watch_variable(var)
            ctx.on_first_read.append(self._watch_variable)
        return self

    def __exit__(self, *exc: object) -> None:
        self._recording = False
        if self.ctx is not None and self._watch_variable in self.ctx.on_first_read:
            self.ctx.on_first_read.remove(self._watch_variable)

    def _watch_variable(self, var: Variable) -> None:
        assert self.ctx is not None
        if id(var) in self._watched or not is_float(var.dtype):
            return
        _, value = self.ctx.variables[id(var)]
        node = alias(value.node)
        self.ctx.variables[id(var)] = (var, TracedArray(node, label=f"Variable {var.name}"))
        self._watched[id(var)] = node

    def watch(self, x: Any) -> None:
        """Record operations on ``x`` (a traced array, a Variable, or a tree of them) from now on."""
        if not self._recording:
            raise GradientError("GradientTape.watch must be called inside the tape's `with` block")
        for path, v in flatten(x)[0]:
            if isinstance(v, Variable):
                v.read()
                self._watch_variable(v)
            elif isinstance(v, TracedArray):
                if not is_float(v.dtype):
                    raise GradientError(f"GradientTape.watch: {v._describe()} is not a float array; integers and "
                                        "bools have no gradient")
                if id(v) not in self._watched:
                    v._node = alias(v.node)
                    self._watched[id(v)] = v._node
            else:
                raise GradientError(f"GradientTape.watch: {path or 'the argument'} is a {type(v).__name__}, not an "
                                    "array computed inside the jitted function or a fusejit.Variable")

    def _source(self, path: str, v: Any) -> Node:
        if id(v) in self._watched:
            return self._watched[id(v)]
        what = f"source {path or 0}"
        if isinstance(v, Variable):
            raise GradientError(f"GradientTape.gradient: {what} (Variable {v.name!r}) was not watched: it is not "
                                "read inside the tape (or watch_accessed_variables=False and no tape.watch)")
        raise GradientError(f"GradientTape.gradient: {what} was not watched; call tape.watch(x) inside the tape")

    def _start(self, what: str) -> None:
        if self._used and not self.persistent:
            raise GradientError(f"GradientTape.{what} can only be called once on a non-persistent tape; create it "
                                "with GradientTape(persistent=True) to call it several times")
        self._used = True

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None) -> Any:
        """The gradient of ``target`` (an array or a tree of them, summed) with respect to each
        source, in the structure of ``sources``; zeros for sources the target does not depend on."""
        self._start("gradient")
        outs = [as_traced(v, f"target {p or 0}").node for p, v in flatten(target)[0]]
        if output_gradients is None:
            cts = [ones_like(o) for o in outs]
        else:
            cts = [as_traced(v, f"output gradient {p or 0}").node for p, v in flatten(output_gradients)[0]]
            if len(cts) != len(outs):
                raise GradientError("GradientTape.gradient: output_gradients must match the target's structure")
        cts = [c if c.dtype == o.dtype else make("cast", c, dtype=o.dtype) for c, o in zip(cts, outs)]
        leaves, tree = flatten(sources)
        wrt = [self._source(p, v) for p, v in leaves]
        float_outs = [(o, c) for o, c in zip(outs, cts) if is_float(o.dtype)]
        grads = vjp_nodes([o for o, _ in float_outs], [c for _, c in float_outs], wrt)
        return unflatten(tree, [TracedArray(g if g is not None else zeros(w)) for g, w in zip(grads, wrt)])

    def jacobian(self, target: Any, sources: Any) -> Any:
        """d target / d source for each source (shape ``target.shape + source.shape``): one reverse
        pass per element of ``target``, for small targets."""
        self._start("jacobian")
        out = as_traced(target, "target").node
        leaves, tree = flatten(sources)
        return unflatten(tree, [TracedArray(jacobian_nodes(out, self._source(p, v), "GradientTape.jacobian"))
                                for p, v in leaves])

