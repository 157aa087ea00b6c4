"""Dask task graphs from a :class:`.plan.Plan`: blockwise calls, or partials and one combine.

Blockwise: one task per block of the chunked axes calls the jitted function on the matching
input blocks (the worker unpickles the function once and compiles it once per chunk shape; the
disk cache makes that a load); each output is an array of ``getitem`` tasks on those calls.

Tree: the traced graph is cut at its full reductions. One compiled *partial* program (symbolic
chunk dims: one program for every chunk size) returns the reductions of each chunk; one
compiled *combine* program takes the partials stacked in block order, reduces them with the same
op (counts from ``numel`` are summed) and evaluates the rest of the graph. Summation order
differs from NumPy's single pairwise pass, so sums agree to rounding, not bit for bit.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import pickle
import threading
import uuid
from typing import Any

import numpy as np

from ..ir import Graph, Node
from ..ir.graph import make, rebuild
from ..ir.shapes import TensorType
from .axes import TREE_REDUCTIONS
from .plan import Plan, is_dask_array, output_leaves


def _dask_inputs(plan: Plan) -> list[Any]:
    """Every array argument as a Dask array whose chunks agree along each chunked axis id."""
    import dask.array as da

    out = []
    for slot in plan.array_slots:
        a = plan.values[slot]
        ids = plan.axis_ids(a.ndim)
        want = tuple(plan.chunks[k] if k in plan.chunks and d != 1 else (d,) for k, d in zip(ids, a.shape))
        if is_dask_array(a):
            out.append(a if tuple(a.chunks) == want else a.rechunk(want))
        else:
            out.append(da.from_array(a, chunks=want))
    return out


def _blocks(plan: Plan) -> list[dict[int, int]]:
    ids = sorted(plan.chunks)
    return [dict(zip(ids, b)) for b in itertools.product(*(range(len(plan.chunks[k])) for k in ids))]


def _input_key(plan: Plan, arr: Any, block: dict[int, int]) -> tuple:
    ids = plan.axis_ids(arr.ndim)
    return (arr.name, *(block.get(k, 0) if len(c) > 1 else 0 for k, c in zip(ids, arr.chunks)))


class _CallBlock:
    """A task's callable: the jitted function applied to one block of every array argument."""

    def __init__(self, plan: Plan) -> None:
        self.fn = plan.fn
        self.names = plan.names
        self.values = [None if i in plan.array_slots else v for i, v in enumerate(plan.values)]
        self.slots = plan.array_slots
        self.npos = len(plan.fn.signature.parameters)

    def __call__(self, *blocks: np.ndarray) -> Any:
        values = list(self.values)
        for i, b in zip(self.slots, blocks):
            values[i] = b
        kwargs = dict(zip(self.names, values))
        out = self.fn(**kwargs)
        return out if isinstance(out, (tuple, list)) else (out,)


def blockwise(plan: Plan) -> Any:
    import dask.array as da

    kind, n = output_leaves(plan)
    inputs = _dask_inputs(plan)
    token = uuid.uuid4().hex[:12]
    call_name = f"fusejit-{plan.fn.__name__}-{token}"
    call = _CallBlock(plan)
    out_names = [f"{call_name}-out{k}" for k in range(n)]
    calls: dict[Any, Any] = {}
    outs: list[dict[Any, Any]] = [{} for _ in range(n)]
    for block in _blocks(plan):
        bkey = (call_name, *(block[k] for k in sorted(plan.chunks)))
        calls[bkey] = (call, *(_input_key(plan, a, block) for a in inputs))
        for k, out in enumerate(_outputs(plan)):
            ids = plan.analysis.of(out)
            outs[k][(out_names[k], *(block[i] if i in plan.chunks else 0 for i in ids))] = (operator.getitem, bkey, k)
    graph = _layered(inputs, [(call_name, calls, ())] + [(o, layer, (call_name,)) for o, layer in zip(out_names, outs)])
    results = []
    for k, out in enumerate(_outputs(plan)):
        chunks = tuple(plan.chunks[i] if i in plan.chunks else (int(d),)
                       for i, d in zip(plan.analysis.of(out), out.shape))
        results.append(da.Array(graph, out_names[k], chunks, meta=np.empty((0,) * out.ndim, out.dtype)))
    return _shape(kind, results)


def _layered(inputs: list[Any], layers: list[tuple[str, dict, tuple[str, ...]]]) -> Any:
    """One high-level graph: the inputs' layers, then each (name, tasks, names it depends on) —
    the first layer depends on the inputs. Dask culls and fuses per layer, so every array name
    must be a layer of its own."""
    from dask.highlevelgraph import HighLevelGraph

    first, tasks, _ = layers[0]
    graph = HighLevelGraph.from_collections(first, tasks, dependencies=inputs)
    all_layers, deps = dict(graph.layers), dict(graph.dependencies)
    for name, tasks, needs in layers[1:]:
        all_layers[name], deps[name] = tasks, set(needs)
    return HighLevelGraph(all_layers, deps)


def _outputs(plan: Plan) -> list[Node]:
    return [plan.graph.outputs[i] for i in plan.out_index]


def _shape(kind: str, results: list[Any]) -> Any:
    return results[0] if kind == "single" else tuple(results) if kind == "tuple" else list(results)


# ---- tree reductions ------------------------------------------------------------------------


_programs: dict[bytes, Any] = {}  # per process: digest of a graph -> its compiled program
_programs_lock = threading.Lock()


class _Program:
    """A graph that pickles as itself and compiles once per process on first call."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.digest = hashlib.sha256(pickle.dumps(graph)).digest()

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        with _programs_lock:
            exe = _programs.get(self.digest)
            if exe is None:
                from ..driver import compile_graph, optimize_graph

                exe = _programs[self.digest] = compile_graph(optimize_graph(self.graph))
        return exe(*[np.ascontiguousarray(a) if a.ndim else np.asarray(a) for a in arrays])


class _Combine:
    def __init__(self, program: _Program) -> None:
        self.program = program

    def __call__(self, *partials: list[np.ndarray]) -> list[np.ndarray]:
        stacked = [np.stack([p[k] for p in partials]) for k in range(len(partials[0]))]
        return self.program(*stacked)


def split_at_reductions(plan: Plan) -> tuple[Graph, Graph]:
    """The partial program (arguments -> each tree reduction of one chunk) and the combine
    program (stacked partials -> the function's outputs)."""
    graph, tree = plan.graph, plan.tree_nodes
    partial = Graph(list(graph.inputs), list(tree), name=f"{graph.name}_partial")
    nblocks = len(_blocks(plan))
    stacked = [Node("input", (), {}, TensorType(t.dtype, (nblocks,)), name=f"partial{k}") for k, t in enumerate(tree)]
    combined = {id(t): make(TREE_REDUCTIONS[t.op], s, axes=[0]) for t, s in zip(tree, stacked)}
    combine = rebuild(graph, replacements=combined, inputs=stacked)
    combine.name = f"{graph.name}_combine"
    return partial, combine


def tree(plan: Plan) -> Any:
    import dask.array as da

    kind, n = output_leaves(plan)
    partial, combine = split_at_reductions(plan)
    inputs = _dask_inputs(plan)
    token = uuid.uuid4().hex[:12]
    pname, cname = f"fusejit-{plan.fn.__name__}-partial-{token}", f"fusejit-{plan.fn.__name__}-combine-{token}"
    run_partial = _Program(partial)
    partials: dict[Any, Any] = {}
    for b, block in enumerate(_blocks(plan)):
        partials[(pname, b)] = (run_partial, *(_input_key(plan, a, block) for a in inputs), *plan.variables)
    combined = {(cname,): (_Combine(_Program(combine)), *partials)}
    out_names = [f"{cname}-out{k}" for k in range(n)]
    graph = _layered(inputs, [(pname, partials, ()), (cname, combined, (pname,))] + [
        (out_names[k], {(out_names[k],): (operator.getitem, (cname,), i)}, (cname,))
        for k, i in enumerate(plan.out_index)])
    results = [da.Array(graph, out_names[k], (), meta=np.empty((), combine.outputs[i].dtype))
               for k, i in enumerate(plan.out_index)]
    return _shape(kind, results)


__all__ = ["blockwise", "split_at_reductions", "tree"]
