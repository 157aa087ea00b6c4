"""``fusejit.jit``: trace once per input signature, optimize, compile, cache, call.

This is the one place that knows the whole pipeline (tracer → passes → backend → runtime).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import Graph
from .ir.arrays import native_byte_order, semantic_subclass_problem
from .ir.dtypes import as_dtype
from .ir.shapes import Dim, TensorType, format_shape
from .live_calls import LiveCalls, add_guard_set
from .profiler.recorder import phase
from .runtime.executable import MISS, Executable, ReferenceExecutable
from .runtime.gc_pause import gc_paused
from .runtime.once import KeyedLocks
from .runtime.placement import current_device
from .tracer import ArgSpec, TraceResult, flatten, trace, unflatten
from .tracer.array import TracedArray
from .tracer.capture import trackable
from .tracer.context import current as current_trace
from .tracer.errors import ConcretizationError, TracingError
from .tracer.speculation import BranchChanged
from .tracer.trace import LiveOptions
from .tracer.variables import Variable, hold


@dataclass(frozen=True)
class Spec:
    """The type of one array argument; ``None`` (or a name) in ``shape`` is a dimension known only
    at run time, so one compiled program serves every size of it (like ``tf.TensorSpec``)."""

    shape: tuple[Dim | None, ...]
    dtype: Any = np.float32
    name: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.shape, (int, str)) or not hasattr(self.shape, "__iter__"):
            raise ArgumentError(f"Spec: shape {self.shape!r} is not a sequence of dims; write e.g. "
                                f"Spec(({self.shape!r},)) for one dimension")
        object.__setattr__(self, "shape", tuple(self.shape))
        object.__setattr__(self, "dtype", as_dtype(self.dtype, "Spec"))


_SYMBOL_NAMES = ("N", "M", "K", "L", "P", "Q", "R", "S", "T")


def _symbolize(specs: Sequence[Spec]) -> list[TensorType]:
    """Give every ``None`` dim a fresh symbol; named dims keep their names (shared across args)."""
    used = {d for s in specs for d in s.shape if isinstance(d, str)}
    fresh = (n for n in itertools.chain(_SYMBOL_NAMES, (f"D{i}" for i in itertools.count())) if n not in used)
    return [TensorType(s.dtype, tuple(next(fresh) if d is None else d for d in s.shape)) for s in specs]


@dataclass
class CompiledEntry:
    """One cache entry: the trace and the executable for one input signature. ``call(*arrays)``
    runs it on the graph's array arguments (variables appended) and returns the user's result."""

    traced: TraceResult
    executable: Executable
    array_positions: list[int]  # which flattened leaves are graph inputs
    # live state: the leaves' values at trace time, and whether each argument was one leaf
    leaves: list[Any] | None = None
    flat: bool = False
    shared: frozenset[int] = frozenset()  # leaves keyed by their class: objects whose programs are shared
    call: Callable[..., Any] = field(init=False)
    hot: Callable[..., Any] | None = field(init=False)  # call, or MISS when the arrays do not fit
    live: LiveCalls | None = field(init=False)  # fetch/call/hot when the trace reads or writes live state

    def __post_init__(self) -> None:
        probe = getattr(self.executable, "fresh_results", False) and hasattr(self.executable, "probe")
        plan = self.traced.live
        self.live = None
        guards = self.traced.branch_guards  # checked after every call: no native hot path
        if guards and (plan is None or plan.empty):
            self.call, self.hot = _guarded(_make_call(self.traced, self.executable, raw=True), guards, False), None
            return
        if plan is None or plan.empty:
            self.call = _make_call(self.traced, self.executable)
            self.hot = _make_call(self.traced, self.executable, probe=True) if probe else None
            return
        statics = {i: v for i, v in enumerate(self.leaves or ())
                   if i not in self.array_positions and i not in self.shared}  # checked by identity
        # objects whose programs are shared are not kept alive by them (a model deleted is freed)
        self.leaves = [None if i in self.shared else v for i, v in enumerate(self.leaves or ())]
        n_user = len(self.traced.graph.outputs) - len(plan.outputs) - len(self.traced.variables_assigned)
        raw = _make_call(self.traced, self.executable, raw=True)
        self.live = LiveCalls(plan, _guarded(raw, guards, True) if guards else raw,
                              _make_call(self.traced, self.executable, probe=True, raw=True) if probe and not guards
                              else None,
                              len(self.array_positions), n_user, self.array_positions, len(self.leaves or ()),
                              statics if self.flat else None)
        self.call, self.hot = self.live.call, None


def _guarded(raw_call: Callable[..., Any], n: int, raw: bool) -> Callable[..., Any]:
    """The call of a program whose last ``n`` outputs say whether the branches it took on the traced
    call's data still hold (:mod:`.tracer.speculation`); BranchChanged when one does not. ``raw``:
    return ``(result, outputs)`` as ``raw_call`` does (live state's calls)."""
    def call(*args: Any) -> Any:
        result, outputs = raw_call(*args)
        if not all(bool(g) for g in outputs[len(outputs) - n:]):
            raise BranchChanged
        return (result, outputs) if raw else result
    return call


def _make_call(traced: TraceResult, exe: Executable, probe: bool = False, raw: bool = False) -> Callable[..., Any]:
    """Source-generate the call of one compiled signature: the variables' buffers (stable for their
    lives) appended to the arguments, the variable updates the program did not write in place
    copied into their buffers, the result tree rebuilt — straight-line code, no per-call lookups.
    ``probe``: through ``exe.probe``, returning ``MISS`` when the arrays are not its signature.
    ``raw``: return ``(result, results list)`` (live state replays stores from the list)."""
    read = traced.variables_read
    env: dict[str, Any] = {"exe": exe, "copyto": np.copyto, "copy_static": _copy_static, "MISS": MISS}
    for k, v in enumerate(read):
        env[f"v{k}"] = v._value
    extra = "".join(f", v{k}" for k in range(len(read)))
    lines = ["def call(*args):"]
    drawn = [k for k, v in enumerate(read) if _refreshed([v])]
    if probe and drawn:  # draw only for arrays of this signature (exe.probe checks the rest natively)
        lines += _signature_check(traced.graph.inputs[:len(traced.graph.inputs) - len(read)], env)
    for k in drawn:  # random state: fresh key and counter from its generator, per call (and thread)
        env[f"refresh{k}"], env[f"keep{k}"] = read[k].refresh, read[k].keep
        lines.append(f"    v{k} = refresh{k}()")
    lines.append(f"    r = exe{'.probe' if probe else ''}(*args{extra})")
    locked = len(lines) - 1  # from the call to the last write-back: under the variables' locks
    if probe:  # a missed probe did not run: the state it drew serves the call that follows
        lines += ["    if r is MISS:", *(f"        keep{k}(v{k})" for k in drawn), "        return r"]
    fresh = getattr(exe, "fresh_results", False)
    if not fresh and read:  # results may share memory with a buffer: copy them first
        lines.append(f"    r = own(r, ({''.join(f'v{k}, ' for k in range(len(read)))}))")
        env["own"], env["host"] = _own_results, _host
    inplace = getattr(exe, "inplace", {})
    first_var = len(traced.graph.inputs) - len(read)
    for ri, i in _donations(traced).items():
        vi = i - first_var
        if inplace.get(ri) == i:
            lines += [f"    if r[{ri}] is not v{vi}:", f"        copyto(v{vi}, r[{ri}])"]
        else:
            value = f"r[{ri}]" if fresh else f"host(r[{ri}])"
            lines.append(f"    copyto(v{vi}, {value})")
    lock = hold(read)
    if lock is not None:  # updates of a variable are atomic for its readers (tracer/variables.py)
        env["acquire"], env["release"] = lock.acquire, lock.release
        lines[locked:] = ["    acquire()", "    try:", *("    " + line for line in lines[locked:]),
                          "    finally:", "        release()"]
    leaves = iter(traced.out_leaves)

    def build(tree: Any) -> str:
        kind = tree[0]
        if kind == "leaf":
            leaf = next(leaves)
            if isinstance(leaf, int):
                return f"r[{leaf}]"
            env[f"k{len(env)}"] = leaf[1]
            return f"copy_static(k{len(env) - 1})"
        if kind == "none":
            return "None"
        if kind == "dict":
            keys = f"d{len(env)}"
            env[keys] = tree[1]
            return "{" + "".join(f"{keys}[{i}]: {build(t)}, " for i, t in enumerate(tree[2])) + "}"
        items = "".join(build(t) + ", " for t in tree[1])
        return f"({items})" if kind == "tuple" else f"[{items}]"

    lines.append(f"    return {build(traced.out_tree)}{', r' if raw else ''}")
    exec("\n".join(lines), env)  # noqa: S102 - generated from the trace's own structure
    return env["call"]


def _signature_check(inputs: Sequence[Any], env: dict[str, Any]) -> list[str]:
    """Lines returning MISS unless ``args`` are ndarrays of these inputs' dtypes and shapes (rank only
    for symbolic dims), so a probe that would miss draws no random state."""
    env["ndarray"] = np.ndarray
    lines = [f"    if len(args) != {len(inputs)}:", "        return MISS"]
    for i, node in enumerate(inputs):
        env[f"dt{i}"] = node.dtype
        shape = f"len(args[{i}].shape) != {node.ndim}" if any(isinstance(d, str) for d in node.shape) \
            else f"args[{i}].shape != {tuple(node.shape)!r}"
        lines += [f"    if type(args[{i}]) is not ndarray or args[{i}].dtype != dt{i} or {shape}:",
                  "        return MISS"]
    return lines


def _refreshed(variables: list[Any]) -> bool:
    """Whether any of these graph-input variables is refreshed before each call (random state)."""
    return any(getattr(type(v), "refresh", None) is not None for v in variables)


def _own_results(results: list[Any], buffers: tuple[np.ndarray, ...]) -> list[Any]:
    """Results of a backend that may return views of its arguments (the reference evaluator): a
    result sharing memory with a variable's buffer is copied, or the in-place update would change it."""
    return [np.array(r, copy=True) if isinstance(r, np.ndarray) and any(np.may_share_memory(r, b) for b in buffers)
            else r for r in results]


def _host(r: Any) -> np.ndarray:
    return r.copy_to_host() if hasattr(r, "copy_to_host") else r  # a device array from the GPU backend


class ArgumentError(TypeError):
    """A call whose arguments do not fit the function's declared signature."""


class JitFunction:
    """A function compiled per input signature. Call it like the original."""

    def __init__(self, fn: Callable[..., Any], *, static_argnames: Sequence[str] = (),
                 static_argnums: Sequence[int] = (), fuse: bool = True, device: str | None = None,
                 input_signature: Sequence[Spec] | None = None, threads: int | None = None,
                 backend: str = "auto", disabled_passes: Sequence[str] = (), dump_dir: str | None = None,
                 fast_math: bool = False, constants: Sequence[Any] | bool = ()) -> None:
        # the constructor's keywords, as given: what a pickled copy is rebuilt with (fusejit.pickling)
        self._options = {k: v for k, v in locals().items() if k not in ("self", "fn", "__class__")}
        functools.update_wrapper(self, fn)
        if not hasattr(self, "__name__"):  # functools.partial, a callable object
            self.__name__ = _callable_name(fn)
        self.fn = fn
        self.branch_fallbacks = 0  # calls run with NumPy: their data branched unlike the traced call's
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters)
        # one name or index is a list of one (as in JAX); other option values are checked up front,
        # so a typo is an error at jit() rather than a silent default at the first call
        static_argnames = (static_argnames,) if isinstance(static_argnames, str) else static_argnames
        static_argnums = (static_argnums,) if isinstance(static_argnums, int) else static_argnums
        _check_options(backend, threads, input_signature)
        names = set(static_argnames) | {params[i] for i in static_argnums if i < len(params)}
        unknown = set(static_argnames) - set(params)
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in self.signature.parameters.values()):
            raise ValueError(f"static_argnames {sorted(unknown)} are not parameters of {fn.__name__}")
        self.static_names = frozenset(names)
        self.fuse = fuse
        self.device = device
        self.threads = threads
        self.backend = backend
        self.disabled_passes = tuple(disabled_passes)
        self.dump_dir = dump_dir
        self.fast_math = fast_math
        self.input_signature = list(input_signature) if input_signature is not None else None
        self._symbolic_types = _symbolize(self.input_signature) if self.input_signature is not None else None
        self._converted: Callable[..., Any] | None = None  # fn with its `if`s converted (fusejit.autograph)
        # live state (fusejit.tracer.capture): objects listed in `constants` are read at trace time and
        # folded in; constants=True folds all state reached through objects, closures and globals (stores
        # to that state are replayed either way)
        self._constants = constants if constants is True else list(constants)
        self._live = LiveOptions(all_frozen=True) if constants is True else \
            LiveOptions(frozenset(map(id, self._constants)))
        self._cache: dict[Any, list[CompiledEntry]] = {}  # per key: one entry per guard set
        # the hot path: calls with only positional ndarrays, keyed by (type, shape, dtype) per argument
        self._fast: dict[tuple, CompiledEntry] = {}
        self._hot: Callable[..., Any] = _miss  # the last fast entry's probing call: no key to build
        self._hot_device = ""  # the device _hot and _fast's entries were compiled for
        # live entries' hot calls by id of their first argument: layers sharing one jitted method
        # (each checks that argument by identity, so a reused id only misses)
        self._live_hot: dict[int, Callable[..., Any]] = {}
        self.trace_count = 0
        self._tracing = KeyedLocks()

    # ---- signature handling ----------------------------------------------------------------

    def _leaves(self, args: tuple, kwargs: dict) -> tuple[list[tuple[str, Any]], Any, Callable]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(f"{self.__name__}(): {exc}") from None
        leaves: list[tuple[str, Any]] = []
        trees = []
        for name, value in bound.arguments.items():
            if name in self.static_names:
                leaves.append((name, _Static(value)))
                trees.append(("leaf",))
                continue
            sub, tree = flatten(value, name)
            leaves += sub
            trees.append(tree)
        names = list(bound.arguments)

        def rebuild(values: list[Any]) -> tuple[tuple, dict]:
            it = iter(values)
            for name, tree in zip(names, trees):
                bound.arguments[name] = unflatten(tree, it)
            return bound.args, bound.kwargs

        key_tree = (tuple(names), tuple(trees))
        return leaves, key_tree, rebuild

    def _classify(self, leaves: list[tuple[str, Any]]) -> tuple[list[Any], list[int], list[np.ndarray]]:
        """Per leaf: a hashable key part; positions and values of the array leaves."""
        key, positions, arrays = [], [], []
        for i, (path, value) in enumerate(leaves):
            if isinstance(value, Variable):
                key.append(("variable", id(value)))  # read by reference: its value is not part of the key
            elif self._shares_programs(value.value if isinstance(value, _Static) else value):
                # an object whose state is read live and guarded: objects of one class share programs
                # (the guards pick the one that fits: same array shapes, same scalars)
                key.append(("instance of", type(value.value if isinstance(value, _Static) else value)))
            elif isinstance(value, _Static):
                value = value.value
                try:
                    hash(value)
                except TypeError:
                    raise ArgumentError(f"{self.__name__}(): static argument {path!r} must be hashable, got "
                                        f"{type(value).__name__}") from None
                key.append(("static", type(value), value))
            elif isinstance(value, (np.ndarray, np.generic)) or _is_array_like(value):
                problem = semantic_subclass_problem(value)
                if problem is not None:
                    raise ArgumentError(f"{self.__name__}(): argument {path!r} {problem}")
                arr = native_byte_order(np.asarray(value))
                as_dtype(arr.dtype, f"argument {path!r}")
                key.append((arr.shape, arr.dtype))
                positions.append(i)
                arrays.append(arr)
            elif isinstance(value, (bool, int, float, str)) or value is None:
                key.append(("static", type(value), value))  # Python scalars specialize the trace
            elif not isinstance(value, (complex, bytes)) and type(value).__hash__ is not None:
                key.append(("static", type(value), value))  # e.g. `self`: its state is read live (tracer.capture)
            elif _has_state(value):
                key.append(("object", _Identity(value)))  # unhashable (a dataclass with eq): one program per object
            else:
                raise ArgumentError(f"{self.__name__}(): argument {path!r} is a {type(value).__name__}; expected "
                                    "a NumPy array, a Python scalar, or a tuple/list/dict of them")
        return key, positions, arrays

    def _shares_programs(self, value: Any) -> bool:
        live = self._live
        return not live.all_frozen and id(value) not in live.frozen and trackable(value)

    def _arg_specs(self, leaves: list[tuple[str, Any]], positions: list[int],
                   arrays: list[np.ndarray]) -> list[Any]:
        specs: list[Any] = [v.value if isinstance(v, _Static) else v for _, v in leaves]  # others: static
        if self._symbolic_types is None:
            for pos, arr in zip(positions, arrays):
                specs[pos] = ArgSpec(leaves[pos][0], TensorType(arr.dtype, arr.shape))
            return specs
        if len(positions) != len(self._symbolic_types):
            raise ArgumentError(f"{self.__name__}(): input_signature declares {len(self._symbolic_types)} array "
                                f"argument(s), the call passes {len(positions)}")
        for pos, t in zip(positions, self._symbolic_types):
            specs[pos] = ArgSpec(leaves[pos][0], t)
        return specs

    def _check_signature(self, leaves: list[tuple[str, Any]], positions: list[int], arrays: list[np.ndarray]) -> None:
        assert self._symbolic_types is not None
        bound: dict[str, int] = {}
        for pos, arr, t in zip(positions, arrays, self._symbolic_types):
            path = leaves[pos][0]
            why = ""  # the first thing that differs, so the message says which
            if arr.dtype != t.dtype:
                why = f"dtype {arr.dtype} is not {t.dtype}"
            elif arr.ndim != len(t.shape):
                why = f"{arr.ndim} dim(s), not {len(t.shape)}"
            for axis, (d, actual) in enumerate(zip(t.shape, arr.shape)):
                if why:
                    break
                if isinstance(d, str) and bound.setdefault(d, actual) != actual:
                    why = f"dim {axis} is {actual}, but {d} is {bound[d]} in an earlier argument (one size per name)"
                elif not isinstance(d, str) and d != actual:
                    why = f"dim {axis} is {actual}, not {d}"
            if why:
                raise ArgumentError(
                    f"{self.__name__}(): argument {path!r} has shape {format_shape(arr.shape)} and dtype "
                    f"{arr.dtype}, but the input_signature declares {t}: {why}")

    # ---- the pipeline ------------------------------------------------------------------------

    def _get_entry(self, args: tuple, kwargs: dict) -> tuple[CompiledEntry, list[Any]]:
        """The entry for these arguments and its call arguments (arrays, then live state)."""
        leaves, key_tree, rebuild = self._leaves(args, kwargs)
        key_parts, positions, arrays = self._classify(leaves)
        if self._symbolic_types is not None:
            self._check_signature(leaves, positions, arrays)
            key_parts = [("array",) if i in positions else k for i, k in enumerate(key_parts)]
        key = (key_tree, tuple(key_parts), _device_key(self.device))
        values = [v.value if isinstance(v, _Static) else v for _, v in leaves]
        entries = self._cache.setdefault(key, [])
        found = _find_entry(entries, values, arrays)
        if found is not None:
            return found
        with self._tracing.hold(key):  # one trace per signature at a time; threads that waited find it
            found = _find_entry(entries, values, arrays)
            if found is not None:
                return found
            specs = self._arg_specs(leaves, positions, arrays)
            examples: list[Any] = [None] * len(leaves)  # this call's arrays: branches on data follow them
            for pos, arr in zip(positions, arrays):
                examples[pos] = arr
            live = LiveOptions(self._live.frozen, tuple(path for path, _ in leaves), self._live.all_frozen)
            with gc_paused():
                with phase("trace"):
                    traced = self._trace(specs, rebuild, live, examples)
                with self._tracing.lock:
                    self.trace_count += 1
                entry = CompiledEntry(traced, self._compile(traced.graph, _donations(traced)), positions, values,
                                      all(t == ("leaf",) for t in key_tree[1]),
                                      frozenset(i for i, k in enumerate(key_parts) if k[0] == "instance of"))
            add_guard_set(self.__name__, entries, entry)
        if entry.live is None:
            return entry, arrays
        state = entry.live.fetch(values)
        if state is MISS:
            raise TracingError(f"{self.__name__}: the state the trace depends on changed while it was traced "
                               "(a guard fails right after tracing); is another thread changing it?")
        return entry, arrays + list(state)

    def _trace(self, specs: list[Any], rebuild: Callable, live: LiveOptions,
               examples: list[Any] | None = None) -> TraceResult:
        """Trace ``self.fn`` (converted, see :meth:`_trace_converted`); if a branch on traced data
        still stops it, follow such branches as this call's data (``examples``) says, checked at every
        call (:mod:`.tracer.speculation`): the last resort, for what conversion cannot express
        (``raise`` in a validation branch, branches inside library code)."""
        try:
            return self._trace_converted(specs, rebuild, live)
        except Exception as exc:  # also a converted function's own failure (not its diagnostics): the original
            if examples is None or not (isinstance(exc, ConcretizationError)
                                        or (self._converted is not None and not isinstance(exc, TracingError))):
                raise
        return trace(self.fn, specs, rebuild, name=self.__name__, live=live, examples=examples)

    def _trace_converted(self, specs: list[Any], rebuild: Callable, live: LiveOptions) -> TraceResult:
        """Trace ``self.fn``; if a traced value was used as a Python bool, retrace once with its
        ``if`` statements converted (:mod:`fusejit.autograph`), and keep using the converted one."""
        fn = self._converted if self._converted is not None else self.fn
        try:
            return trace(fn, specs, rebuild, name=self.__name__, live=live)
        except ConcretizationError:
            if self._converted is not None:
                raise
            from .autograph import convert

            converted = convert(self.fn)
            if converted is None:
                raise
            self._converted = converted
        return trace(self._converted, specs, rebuild, name=self.__name__, live=live)

    def _compile(self, graph: Graph, donate: dict[int, int]) -> Executable:
        root = self.dump_dir or os.environ.get("FUSEJIT_DUMP")
        dump_dir = os.path.join(root, f"{graph.name}.{self.trace_count}") if root else None  # one per signature
        with phase("optimize"):
            graph = optimize_graph(graph, disabled=self.disabled_passes, dump_dir=dump_dir, fast_math=self.fast_math)
        return compile_graph(graph, fuse=self.fuse, device=_device_key(self.device), threads=self.threads,
                             backend=self.backend, donate=donate)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fast_key = None
        if not kwargs:
            device = self.device or current_device()
            if device != self._hot_device:  # `with fusejit.device(...)` changed it: forget the fast paths
                self._hot, self._hot_device = _miss, device
                self._fast.clear()
                self._live_hot.clear()
            result = self._hot(*args)  # the compiled program checks the arrays itself
            if result is not MISS:
                return result
            if args and self._live_hot:
                hot = self._live_hot.get(id(args[0]))
                if hot is not None and (result := hot(*args)) is not MISS:
                    self._hot = hot
                    return result
            try:
                fast_key = tuple([(type(a), a.shape, a.dtype) for a in args])
            except AttributeError:
                pass
            else:
                entry = self._fast.get(fast_key)
                if entry is not None:
                    self._hot = entry.hot or _miss
                    try:
                        return entry.call(*args)
                    except BranchChanged:  # the data took another branch than the traced call's
                        return self._as_written(args, {})
        if _has_dask_array(args, kwargs):  # build a Dask graph instead of computing (fusejit.dask)
            from .dask import call

            return call(self, args, kwargs)
        if current_trace() is not None:  # called from another traced function: inline it
            return self.fn(*args, **kwargs)
        entry, arrays = self._get_entry(args, kwargs)
        if entry.live is not None:
            if entry.live.hot is not None and not kwargs and len(args) == len(entry.leaves or ()):
                self._hot = entry.live.hot
                if args:
                    if len(self._live_hot) >= _FAST_MAX:
                        self._live_hot.clear()
                    self._live_hot[id(args[0])] = entry.live.hot
            try:
                return entry.call(*arrays)
            except BranchChanged:  # the data took another branch than the traced call's: run it as written
                return self._as_written(args, kwargs)
        if fast_key is not None and not self.static_names \
                and all(type(a) is np.ndarray for a in args) and entry.array_positions == list(range(len(args))):
            if len(self._fast) >= _FAST_MAX:  # e.g. a dynamic dim called with ever new sizes
                self._fast.clear()
            self._fast[fast_key] = entry
            self._hot = entry.hot or _miss
        try:
            return entry.call(*arrays)
        except BranchChanged:  # the data took another branch than the traced call's: run it as written
            return self._as_written(args, kwargs)

    def _as_written(self, args: tuple, kwargs: dict) -> Any:
        """Run the function with NumPy: a branch it takes on its data differs from the traced call's
        (:mod:`.tracer.speculation`). ``branch_fallbacks`` counts such calls."""
        self.branch_fallbacks += 1
        return self.fn(*args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> Graph:
        """The traced (unoptimized) graph for these arguments; its ``str`` is the IR text."""
        return self._get_entry(args, kwargs)[0].traced.graph

    def lower(self, *args: Any, **kwargs: Any) -> Executable:
        """The compiled program for these arguments: optimized IR, kernels, LLVM IR, assembly."""
        return self._get_entry(args, kwargs)[0].executable

    def __reduce__(self) -> tuple:
        """Pickles what rebuilds this function, never its native code: see :mod:`fusejit.pickling`."""
        from .pickling import reduce_jit

        return reduce_jit(self)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<fusejit.jit {self.__name__}: {sum(map(len, self._cache.values()))} compiled signature(s)>"


_FAST_MAX = 256


def _callable_name(fn: Any) -> str:
    """A name for error messages and the IR of a callable without ``__name__``: a partial is named
    after the function it wraps, a callable object after its class."""
    if isinstance(fn, functools.partial):
        return _callable_name(fn.func)
    return getattr(fn, "__name__", None) or type(fn).__name__


def _find_entry(entries: list[CompiledEntry], values: list[Any],
                arrays: list[Any]) -> tuple[CompiledEntry, list[Any]] | None:
    """The entry whose guards hold for ``values`` and its call arguments, or None."""
    for entry in reversed(entries):  # the newest guard set first: state that changed usually stays so
        if entry.live is None:
            return entry, arrays
        state = entry.live.fetch(values)
        if state is not MISS:
            return entry, arrays + list(state)
    return None


def _miss(*args: Any) -> Any:
    return MISS


def _donations(traced: TraceResult) -> dict[int, int]:
    """Each assigned variable's new value (an output) may overwrite its old value (an input)."""
    graph, read = traced.graph, traced.variables_read
    first_var, nout, assigned = len(graph.inputs) - len(read), len(graph.outputs), traced.variables_assigned
    return {nout - len(assigned) + k: first_var + next(j for j, u in enumerate(read) if u is v)
            for k, v in enumerate(assigned)}


@dataclass(frozen=True)
class _Static:
    value: Any


def _has_dask_array(args: Any, kwargs: dict | None = None) -> bool:
    """Whether any argument (nested in tuples, lists, dicts too) is a Dask collection."""
    items = (*args, *kwargs.values()) if kwargs is not None else args
    for a in items:
        if isinstance(a, (tuple, list)) and _has_dask_array(a) or isinstance(a, dict) and _has_dask_array(a.values()):
            return True
        if type(a).__module__.startswith("dask.") and hasattr(a, "chunks"):
            return True
    return False


class _Identity:
    """A cache-key part for an unhashable object: equal only to itself (and keeps it alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


def _has_state(value: Any) -> bool:
    return hasattr(value, "__dict__") or bool(getattr(type(value), "__slots__", ()))


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "__array__") or hasattr(value, "__array_interface__")


def _copy_static(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _device_key(device: str | None) -> str:
    from .runtime import placement

    return placement.normalize(device) if device is not None else placement.current_device()


def optimize_graph(graph: Graph, *, disabled: Sequence[str] = (), dump_dir: str | None = None,
                   fast_math: bool = False, fold_affine: bool = False) -> Graph:
    """Run the optimizer pipeline (Grappler-style passes) over a traced or frozen graph."""
    from .passes import optimize

    return optimize(graph, disabled=disabled, dump_dir=dump_dir, fast_math=fast_math, fold_affine=fold_affine).graph


BACKENDS = ("auto", "cpu", "reference")


def _check_options(backend: Any, threads: Any, input_signature: Any) -> None:
    if backend not in BACKENDS:
        raise ArgumentError(f"jit(backend={backend!r}): expected one of {', '.join(map(repr, BACKENDS))}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ArgumentError(f"jit(threads={threads!r}): expected an int >= 1 (threads per kernel) or None (all cores)")
    if isinstance(input_signature, Spec) or (input_signature is not None and not all(
            isinstance(s, Spec) for s in input_signature)):
        raise ArgumentError(f"jit(input_signature={input_signature!r}): expected a list of fusejit.Spec, one per "
                            "array argument, e.g. [Spec((None, 784), np.float32)]")


def compile_graph(graph: Graph, *, fuse: bool = True, device: str = "cpu", threads: int | None = None,
                  backend: str = "auto", donate: dict[int, int] | None = None) -> Executable:
    """Hand an optimized graph to the backend for ``device``. ``donate`` (output index -> input
    index): outputs the CPU program may write into that input's buffer (variable updates)."""
    if device.startswith("gpu") or device.startswith("cuda"):
        from .codegen.cuda import compile_cuda

        return compile_cuda(graph, fuse=fuse, device=device)
    if backend == "reference":
        return ReferenceExecutable(graph)
    try:
        from .codegen.cpu import compile_cpu
    except ImportError:
        if backend == "cpu":
            raise
        return ReferenceExecutable(graph)
    return compile_cpu(graph, fuse=fuse, threads=threads, donate=donate)


def jit(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Compile ``fn`` with fusejit; usable as ``@jit``, ``@jit(...)`` or ``jit(fn, ...)``.

    Options: ``static_argnames``/``static_argnums`` (values that specialize the trace),
    ``input_signature`` (list of ``Spec``; ``None`` dims are dynamic), ``fuse`` (False: one kernel
    per op), ``device`` ("cpu", "gpu", "gpu:0"), ``threads``, ``backend`` ("auto", "cpu",
    "reference"), ``disabled_passes``, ``dump_dir``, ``fast_math``, ``constants`` (objects — arrays,
    containers, ``self`` — whose state is read once at trace time and folded into the program instead
    of being read live at every call; ``True``: all of it).
    """
    known = [n for n in inspect.signature(JitFunction.__init__).parameters if n not in ("self", "fn")]
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ArgumentError(f"jit() got an unknown option {name!r}; {hint}the options are {', '.join(known)}")
    if fn is None:
        return lambda f: JitFunction(f, **options)
    return JitFunction(fn, **options)


__all__ = ["ArgumentError", "JitFunction", "Spec", "TracedArray", "TracingError", "Variable", "jit"]
