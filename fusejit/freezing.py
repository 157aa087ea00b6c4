"""``fusejit.freeze``: trace a function, turn its variables into constants, optimize — the graph
that is saved and compiled ahead of time (TensorFlow's ``convert_variables_to_constants``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from .driver import JitFunction, Spec, optimize_graph
from .ir import Graph, constant
from .ir.graph import rebuild
from .tracer import TracingError
from .tracer.variables import Variable


def freeze(fn: Callable[..., Any] | JitFunction, *specs_or_examples: Spec | np.ndarray,
           keep_variables: Collection[Variable | str] = (), optimize: bool = True, name: str | None = None) -> Graph:
    """Trace ``fn`` with array arguments given as ``Spec``s (``None`` dims stay symbolic) or
    example arrays; replace every variable read with a constant of its current value (except
    ``keep_variables``, which stay graph inputs after the arguments); run the full optimizer,
    including affine folding, which now sees the weights."""
    jitted = fn if isinstance(fn, JitFunction) else JitFunction(fn)
    specs = [s if isinstance(s, Spec) else Spec(np.shape(s), np.asarray(s).dtype) for s in specs_or_examples]
    frozen_fn = JitFunction(jitted.fn, input_signature=specs, static_argnames=sorted(jitted.static_names),
                            backend="reference")
    examples = [np.zeros(tuple(1 if d is None or isinstance(d, str) else d for d in s.shape), s.dtype) for s in specs]
    entry, _ = frozen_fn._get_entry(tuple(examples), {})
    traced = entry.traced
    if traced.branch_guards:  # taken for placeholder zeros; a frozen graph has no Python to fall back to
        from .tracer.errors import ConcretizationError

        raise ConcretizationError(f"freeze: {traced.context.guards[0][2]} A frozen graph must not branch on its "
                                  "inputs' values.")
    if traced.variables_assigned:
        names = ", ".join(v.name for v in traced.variables_assigned)
        raise TracingError(f"freeze: {jitted.__name__} assigns variable(s) {names}; a frozen graph is a pure "
                           "function of its inputs (freeze the inference function, not the training step)")
    live = traced.live
    if live is not None and (live.effects or live.writebacks):
        raise TracingError(f"freeze: {jitted.__name__} stores to state outside it (attributes, dict items, list "
                           "appends or in-place updates of captured arrays); a frozen graph is a pure function of "
                           "its inputs (freeze the inference function, not the training step)")
    drawing = [v.name for v in traced.variables_read if getattr(type(v), "refresh", None) is not None]
    if drawing:
        raise TracingError(f"freeze: {jitted.__name__} draws from NumPy's random API, whose state is refreshed "
                           "from the NumPy generator at every call; a frozen graph cannot do that. Pass a "
                           "fusejit.random key as an argument instead (its samples are then a pure function of it)")
    keep = {v if isinstance(v, str) else v.name for v in keep_variables}
    graph = traced.graph
    captures = live.captures if live is not None else []
    n_args = len(graph.inputs) - len(traced.variables_read) - len(captures)
    replacements = {id(c.node): constant(c.array.copy(), c.array.dtype) for c in captures}  # live state folded
    kept_inputs = list(graph.inputs[:n_args])
    for var, node in zip(traced.variables_read, graph.inputs[n_args + len(captures):]):
        if var.name in keep:
            kept_inputs.append(node)
        else:
            replacements[id(node)] = constant(var.numpy().copy(), var.dtype)
    graph = rebuild(graph, replacements=replacements, inputs=kept_inputs)
    graph.name = name or graph.name
    if optimize:
        graph = optimize_graph(graph, fold_affine=True)
    return graph
