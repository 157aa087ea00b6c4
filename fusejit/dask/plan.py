"""From a jitted function and Dask arrays to a plan: which axes are chunked, and how to run it.

The function is traced once on the client with every chunked axis a *symbolic* dim (so one
compiled program serves every chunk size, edge chunks included) and the trace is analysed
(:mod:`.axes`). Nothing is computed: output dtypes, shapes and chunks all come from the trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..driver import JitFunction, Spec
from ..ir import Graph, Node
from ..ir.graph import topo_order
from .axes import AxisAnalysis, analyse, tree_reductions


class DaskPlanError(ValueError):
    """A function that cannot run chunk by chunk over these chunks (the message says what to rechunk)."""


def is_dask_array(value: Any) -> bool:
    return type(value).__module__.startswith("dask.") and hasattr(value, "chunks") and hasattr(value, "dask")


@dataclass
class Plan:
    fn: JitFunction
    names: list[str]  # bound argument names, in order
    values: list[Any]  # their values (dask arrays, NumPy arrays, static Python values)
    array_slots: list[int]  # which of them are arrays (graph inputs, in order)
    rank: int
    shape: tuple[int, ...]  # the broadcast shape of all array arguments
    chunks: dict[int, tuple[int, ...]]  # chunked axis id -> its chunks
    graph: Graph
    out_tree: Any
    out_index: list[int]  # per result leaf: its index in graph.outputs
    analysis: AxisAnalysis
    variables: list[np.ndarray]  # values of the Variables the program reads (after the arrays)
    tree_nodes: list[Node]  # full reductions run as a tree (empty: blockwise)

    def axis_ids(self, ndim: int) -> list[int]:
        return [self.rank - ndim + j for j in range(ndim)]


def make_plan(fn: JitFunction, args: tuple, kwargs: dict) -> Plan:
    try:
        bound = fn.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise DaskPlanError(f"{fn.__name__}(): {exc}") from None
    names, values = list(bound.arguments), list(bound.arguments.values())
    # A NumPy scalar is an array argument to jit (not a static value): plan it as the 0-d array it is.
    values = [np.asarray(v) if isinstance(v, np.generic) and n not in fn.static_names else v
              for n, v in zip(names, values)]
    slots = [i for i, (n, v) in enumerate(zip(names, values))
             if n not in fn.static_names and (is_dask_array(v) or isinstance(v, np.ndarray))]
    for n, v in zip(names, values):
        if isinstance(v, (list, tuple, dict)) and any(is_dask_array(x) for x in _leaves(v)):
            raise DaskPlanError(f"{fn.__name__}(): argument {n!r} nests Dask arrays in a {type(v).__name__}; "
                                "pass each Dask array as an argument of its own")
    arrays = [values[i] for i in slots]
    rank = max(a.ndim for a in arrays)
    try:
        shape = tuple(np.broadcast_shapes(*(a.shape for a in arrays)))
    except ValueError:
        raise DaskPlanError(f"{fn.__name__}(): argument shapes {[a.shape for a in arrays]} do not broadcast") from None
    if any(isinstance(d, float) and np.isnan(d) for a in arrays for d in a.shape):
        raise DaskPlanError(f"{fn.__name__}(): a Dask argument has unknown chunk sizes (NaN); call "
                            "compute_chunk_sizes() first")
    chunks: dict[int, tuple[int, ...]] = {}
    for a in arrays:
        if is_dask_array(a):
            for j, c in enumerate(a.chunks):
                if len(c) > 1:
                    chunks.setdefault(rank - a.ndim + j, tuple(c))
    key = _trace_key(fn, names, values, slots, chunks)
    cache = fn.__dict__.setdefault("_dask_traces", {})  # per function: the client traces once per signature
    found = cache.get(key) if key is not None else None
    if found is None:
        found = _trace_and_analyse(fn, args, names, values, slots, rank, shape, chunks)
        if key is not None:
            cache[key] = found
    graph, out_tree, out_index, analysis, variables, tree = found
    return Plan(fn, names, values, slots, rank, shape, chunks, graph, out_tree, out_index, analysis,
                [v.numpy() for v in variables], tree)


def _trace_key(fn: JitFunction, names: list[str], values: list[Any], slots: list[int],
               chunks: dict[int, tuple[int, ...]]) -> tuple | None:
    parts: list[Any] = [tuple(names), tuple(sorted(chunks))]
    for i, v in enumerate(values):
        if i in slots:
            parts.append((v.shape, v.dtype, tuple(len(c) > 1 for c in getattr(v, "chunks", ()))))
        else:
            try:
                hash(v)
            except TypeError:
                return None  # an unhashable static argument: trace every time
            parts.append((type(v), v))
    return tuple(parts)


def _trace_and_analyse(fn: JitFunction, args: tuple, names: list[str], values: list[Any], slots: list[int],
                       rank: int, shape: tuple[int, ...], chunks: dict[int, tuple[int, ...]]) -> tuple:
    arrays = [values[i] for i in slots]
    specs = [Spec(tuple(f"C{rank - a.ndim + j}" if rank - a.ndim + j in chunks and d != 1 else d
                        for j, d in enumerate(a.shape)), a.dtype) for a in arrays]
    tracer = JitFunction(fn.fn, input_signature=specs, static_argnames=sorted(fn.static_names), backend="reference")
    examples = list(values)
    for i, a, s in zip(slots, arrays, specs):
        first = tuple(1 if isinstance(d, str) else d for d in s.shape)
        examples[i] = np.broadcast_to(np.zeros((), a.dtype), first)  # no data: the trace needs types only
    entry, _ = tracer._get_entry(tuple(examples[: len(args)]), dict(zip(names[len(args):], examples[len(args):])))
    traced = entry.traced
    graph = traced.graph
    if traced.branch_guards:  # taken for placeholder zeros, not the chunks' data
        raise DaskPlanError(f"{fn.__name__}(): on Dask arrays a function must not branch on its data "
                            f"({traced.context.guards[0][2]})")
    if traced.variables_assigned or not all(isinstance(i, int) for i in traced.out_leaves):
        raise DaskPlanError(f"{fn.__name__}(): on Dask arrays a function must return arrays only and assign no "
                            "Variable (each chunk would assign it)")
    hidden = {id(n) for n in graph.inputs[len(arrays):]}
    analysis = analyse(graph, rank, hidden)
    chunked = set(chunks)
    found = (graph, traced.out_tree, list(traced.out_leaves), analysis, traced.variables_read, [])
    if not analysis.coupled() & chunked:
        _check_outputs_span(fn, graph, analysis, found[2], chunks)
        return found
    tree = tree_reductions(graph, analysis, chunked)
    still = analysis.coupled({id(n) for n in tree}) & chunked
    if still or not tree or not _tail_is_cut(graph, tree):
        axes = sorted(still or (analysis.coupled() & chunked))
        raise DaskPlanError(
            f"{fn.__name__}(): the program combines values along axis id(s) {axes} (counted from the left of "
            f"the broadcast shape {shape}), which are split into chunks; it can run chunk by chunk only when "
            "those axes are whole. Rechunk them into one chunk, e.g. x.rechunk({axis: -1}), or use "
            "fusejit.dask.reduction with an explicit combine.")
    return found[:5] + (tree,)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _check_outputs_span(fn: JitFunction, graph: Graph, analysis: AxisAnalysis, out_index: list[int],
                        chunks: dict[int, tuple[int, ...]]) -> None:
    for k in out_index:
        missing = set(chunks) - {a for a in analysis.of(graph.outputs[k]) if isinstance(a, int)}
        if missing:
            raise DaskPlanError(
                f"{fn.__name__}(): output {k} does not span the chunked axis id(s) {sorted(missing)}, so "
                "each chunk would compute it again; rechunk those axes into one chunk")


def _tail_is_cut(graph: Graph, tree: list[Node]) -> bool:
    """Whether every output depends on the arguments only through the tree reductions."""
    cut = {id(n) for n in tree}
    inputs = {id(n) for n in graph.inputs}
    stack, seen = list(graph.outputs), set()
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in cut:
            continue
        seen.add(id(node))
        if id(node) in inputs:
            return False
        stack.extend(node.args)
    return True


def output_leaves(plan: Plan) -> tuple[str, int]:
    """``("single", 1)`` or ``("tuple"|"list", n)``: the result structures Dask outputs support."""
    tree = plan.out_tree
    if tree[0] == "leaf":
        return "single", 1
    if tree[0] in ("tuple", "list") and all(t[0] == "leaf" for t in tree[1]):
        return tree[0], len(tree[1])
    raise DaskPlanError(f"{plan.fn.__name__}(): on Dask arrays, return one array or a flat tuple/list of arrays")


__all__ = ["DaskPlanError", "Plan", "is_dask_array", "make_plan", "output_leaves", "topo_order"]
