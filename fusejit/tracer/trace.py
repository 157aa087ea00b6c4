"""``trace(fn, ...)``: run a Python function on abstract arrays and record a ``Graph``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir import Graph, Node
from ..ir.shapes import TensorType
from . import constructors
from . import indexing as _indexing  # noqa: F401  (installs __getitem__/__setitem__)
from .array import TracedArray
from .context import TraceContext, tracing
from .errors import ConcretizationError, DataDependentShapeError, TracingError
from .pytree import TreeDef, flatten

if TYPE_CHECKING:
    from .side_effects import LivePlan


@dataclass(frozen=True)
class ArgSpec:
    """One array argument of a trace: its name (path in the argument tree) and type."""

    name: str
    type: TensorType


@dataclass
class TraceResult:
    graph: Graph
    out_tree: TreeDef
    # per output leaf: index into graph.outputs, or ("static", value) for non-array results
    out_leaves: list[Any]
    context: TraceContext
    live: LivePlan | None = None  # captured state, guards and replayed stores (None: not tracked)
    branch_guards: int = 0  # the last outputs: branches taken on the traced call's data, still true?

    @property
    def variables_read(self) -> list[Any]:
        """Variables whose current values follow the arguments as the last graph inputs."""
        return list(self.context.captured_order)

    @property
    def variables_assigned(self) -> list[Any]:
        """Variables whose new values are the last graph outputs, in this order."""
        return list(self.context.updates.values())


def _check_arguments_unchanged(fn_name: str, before: tuple, after: tuple) -> None:
    """Arguments reach the trace flattened into arrays and rebuilt: a store into a dict or list
    passed as an argument would change that copy, not the caller's container. Refused."""
    if before[1] != after[1] or any(a[1] is not b[1] for a, b in zip(before[0], after[0])):
        from .errors import SideEffectError

        raise SideEffectError(
            f"{fn_name} changes a dict or list it was passed as an argument; fusejit flattens arguments into "
            "arrays, so the caller's container would not see the change. Return the new values instead, or keep "
            "the container on an object (`self.cache`), whose stores are replayed after each call.")


def input_name(path: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.]", "_", path) or "arg"
    return name if re.match(r"[A-Za-z_]", name) else "arg_" + name


@dataclass(frozen=True)
class LiveOptions:
    """Track live state (:mod:`.capture`): ``frozen`` holds the ids of objects read as constants
    (``all_frozen``: all of them),
    ``leaf_names`` the argument paths of the leaves (for messages and input names)."""

    frozen: frozenset[int] = frozenset()
    leaf_names: tuple[str, ...] = ()
    all_frozen: bool = False  # every array and scalar of live state read once (stores still replayed)


def trace(fn: Callable[..., Any], leaves: Sequence[ArgSpec | Any],
          rebuild: Callable[[list[Any]], tuple[tuple, dict]], name: str | None = None,
          live: LiveOptions | None = None, examples: Sequence[Any] | None = None) -> TraceResult:
    """Trace ``fn`` where array leaves are ``ArgSpec``s and other leaves are static Python values;
    ``rebuild(values)`` turns the leaves back into ``(args, kwargs)``. With ``live``, arrays and
    scalars reached through static objects, closures and globals are read at call time and stores
    to them are replayed (:mod:`.capture`, :mod:`.side_effects`); every object is restored when the
    trace ends, whether it succeeded or not. ``examples`` (the call's arrays, by leaf; None for static
    leaves): Python branches on the data follow them and are checked at run time (:mod:`.speculation`)."""
    fn_name = name or getattr(fn, "__name__", "f")
    ctx = TraceContext(fn_name=fn_name)
    ctx.examples = {} if examples is not None else None
    if live is not None:
        from .capture import Session

        ctx.live = Session(fn_name, frozen=set(live.frozen), frozen_all=live.all_frozen)
    try:
        return _trace(fn, leaves, rebuild, ctx, live, examples)
    finally:
        if ctx.live is not None:
            ctx.live.restore()
        ctx.done = True
        ctx.examples, ctx.example_values = None, {}  # the call's data is not kept with the program


def _trace(fn: Callable[..., Any], leaves: Sequence[ArgSpec | Any], rebuild: Callable[[list[Any]], tuple[tuple, dict]],
           ctx: TraceContext, live: LiveOptions | None, examples: Sequence[Any] | None = None) -> TraceResult:
    fn_name = ctx.fn_name
    inputs: list[Node] = []
    values: list[Any] = []
    for leaf in leaves:
        if isinstance(leaf, ArgSpec):
            node = Node("input", (), {}, leaf.type, name=input_name(leaf.name))
            inputs.append(node)
            if ctx.examples is not None and examples is not None:
                ctx.examples[id(node)] = examples[len(values)]
            values.append(TracedArray(node, is_argument=True, label=leaf.name))
        else:
            values.append(leaf)
    from ..random.numpy_api import RandomHooks  # np.random inside the trace draws fresh samples per call

    hooks = RandomHooks(values)
    args, kwargs = rebuild(hooks.leaves)
    session = ctx.live
    with tracing(ctx), hooks, constructors.patched():
        try:
            if session is not None:
                from .side_effects import refuse_io

                names = live.leaf_names if live is not None else ()
                session.enter(fn, [(i, names[i] if i < len(names) else f"arg{i}", v)
                                   for i, v in enumerate(values) if not isinstance(leaves[i], ArgSpec)])
                before = flatten((args, kwargs))
                with refuse_io():
                    result = fn(*args, **kwargs)
                _check_arguments_unchanged(fn_name, before, flatten((args, kwargs)))
            else:
                result = fn(*args, **kwargs)
        except ValueError as exc:
            if "setting an array element with a sequence" not in str(exc):
                raise
            raise ConcretizationError(
                f"{fn_name}: {exc} — most likely a traced value was stored into a NumPy array created inside "
                "the function (`out = np.zeros(n); out[i] = x.sum()`). NumPy arrays cannot hold traced values; "
                "build the result from traced arrays instead (`out = np.zeros_like(x)`, np.stack, np.where)."
            ) from exc
    returned: dict[int, int] = {}  # id of a returned traced array -> its output (a store of it reuses it)
    out_leaves, out_tree = flatten(result)
    outputs: list[Node] = []
    out_map: list[Any] = []
    for path, leaf in out_leaves:
        if isinstance(leaf, TracedArray):
            if leaf.mask is not None:
                raise DataDependentShapeError(
                    f"{fn_name} returns a boolean-mask selection `x[mask]` (output {path or 0}), whose shape "
                    "depends on the data; fusejit compiles fixed-shape programs. Return "
                    "`np.where(mask, x, fill)` instead, or apply the mask outside the jitted function.")
            out_map.append(len(outputs))
            returned.setdefault(id(leaf), len(outputs))
            outputs.append(leaf.node)
        elif isinstance(leaf, (np.ndarray, np.generic, bool, int, float, str)) or leaf is None:
            out_map.append(("static", leaf))
        else:
            raise TracingError(f"{fn_name} returned a {type(leaf).__name__} (output {path or 0}); "
                               "jitted functions return arrays, scalars and tuples/lists/dicts of them")
    plan = None
    if session is not None:
        from .side_effects import finish

        with tracing(ctx):
            plan = finish(session, returned)
        inputs += [cap.node for cap in plan.captures]
        outputs += plan.outputs
    inputs += [ctx.reads[id(v)] for v in ctx.captured_order]
    updated = list(ctx.updates.values())
    outputs += [ctx.variables[id(v)][1].node for v in updated]
    if ctx.guards:
        if (plan is not None and (plan.effects or plan.writebacks or plan.outputs)) or ctx.captured_order:
            raise ConcretizationError(
                f"{ctx.guards[0][2]} (fusejit follows such a branch as the first call's data says and checks it "
                "at run time only in functions that store no live state and read no Variables)")
        from .speculation import guard_outputs

        outputs += guard_outputs(ctx.guards)
    graph = Graph(inputs, outputs, name=input_name(fn_name))
    return TraceResult(graph, out_tree, out_map, ctx, plan, len(ctx.guards))
