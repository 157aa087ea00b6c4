"""``fusejit.jit``: trace once per input signature, optimize, compile, cache, call.

This is the one place that knows the whole pipeline (tracer → passes → backend → runtime).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import Graph
from .ir.dtypes import as_dtype
from .ir.shapes import Dim, TensorType, format_shape
from .runtime.executable import Executable, ReferenceExecutable
from .tracer import ArgSpec, TraceResult, flatten, trace, unflatten
from .tracer.array import TracedArray
from .tracer.errors import TracingError
from .tracer.variables import Variable


@dataclass(frozen=True)
class Spec:
    """The type of one array argument; ``None`` (or a name) in ``shape`` is a dimension known only
    at run time, so one compiled program serves every size of it (like ``tf.TensorSpec``)."""

    shape: tuple[Dim | None, ...]
    dtype: Any = np.float32
    name: str | None = None

    def __post_init__(self) -> None:
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
    """One cache entry: the trace and the executable for one input signature."""

    traced: TraceResult
    executable: Executable
    array_positions: list[int]  # which flattened leaves are graph inputs
    single_output: bool = field(default=False)
    variables_read: list[Any] = field(default_factory=list)
    variables_assigned: list[Any] = field(default_factory=list)

    @property
    def plain(self) -> bool:
        """One array result and no variables: the call is just the executable's first output."""
        return (self.single_output and isinstance(self.traced.out_leaves[0], int)
                and not self.variables_read and not self.variables_assigned)


class ArgumentError(TypeError):
    """A call whose arguments do not fit the function's declared signature."""


class JitFunction:
    """A function compiled per input signature. Call it like the original."""

    def __init__(self, fn: Callable[..., Any], *, static_argnames: Sequence[str] = (),
                 static_argnums: Sequence[int] = (), fuse: bool = True, device: str | None = None,
                 input_signature: Sequence[Spec] | None = None, threads: int | None = None,
                 backend: str = "auto", disabled_passes: Sequence[str] = (), dump_dir: str | None = None,
                 fast_math: bool = False) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters)
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
        self._cache: dict[Any, CompiledEntry] = {}
        # the hot path: calls with only positional ndarrays, keyed by (type, shape, dtype) per argument
        self._fast: dict[tuple, CompiledEntry] = {}
        self.trace_count = 0

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
            elif isinstance(value, _Static):
                value = value.value
                try:
                    hash(value)
                except TypeError:
                    raise ArgumentError(f"{self.__name__}(): static argument {path!r} must be hashable, got "
                                        f"{type(value).__name__}") from None
                key.append(("static", type(value), value))
            elif isinstance(value, (np.ndarray, np.generic)) or _is_array_like(value):
                arr = np.asarray(value)
                as_dtype(arr.dtype, f"argument {path!r}")
                key.append((arr.shape, arr.dtype))
                positions.append(i)
                arrays.append(arr)
            elif isinstance(value, (bool, int, float, str)) or value is None:
                key.append(("static", type(value), value))  # Python scalars specialize the trace
            elif not isinstance(value, (complex, bytes)) and type(value).__hash__ is not None:
                key.append(("static", type(value), value))  # e.g. `self`: its attributes are read at trace time
            else:
                raise ArgumentError(f"{self.__name__}(): argument {path!r} is a {type(value).__name__}; expected "
                                    "a NumPy array, a Python scalar, or a tuple/list/dict of them")
        return key, positions, arrays

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
            ok = arr.dtype == t.dtype and arr.ndim == len(t.shape)
            for d, actual in zip(t.shape, arr.shape):
                if isinstance(d, str):
                    ok = ok and bound.setdefault(d, actual) == actual
                else:
                    ok = ok and d == actual
            if not ok:
                raise ArgumentError(
                    f"{self.__name__}(): argument {path!r} has shape {format_shape(arr.shape)} and dtype "
                    f"{arr.dtype}, but the input_signature declares {t} (a named dim must have one size "
                    "across all arguments)")

    # ---- the pipeline ------------------------------------------------------------------------

    def _get_entry(self, args: tuple, kwargs: dict) -> tuple[CompiledEntry, list[np.ndarray]]:
        leaves, key_tree, rebuild = self._leaves(args, kwargs)
        key_parts, positions, arrays = self._classify(leaves)
        if self._symbolic_types is not None:
            self._check_signature(leaves, positions, arrays)
            key_parts = [("array",) if i in positions else k for i, k in enumerate(key_parts)]
        key = (key_tree, tuple(key_parts), _device_key(self.device))
        entry = self._cache.get(key)
        if entry is None:
            specs = self._arg_specs(leaves, positions, arrays)
            traced = trace(self.fn, specs, rebuild, name=self.__name__)
            self.trace_count += 1
            entry = CompiledEntry(traced, self._compile(traced.graph), positions,
                                  single_output=traced.out_tree == ("leaf",),
                                  variables_read=traced.variables_read,
                                  variables_assigned=traced.variables_assigned)
            self._cache[key] = entry
        return entry, arrays

    def _compile(self, graph: Graph) -> Executable:
        root = self.dump_dir or os.environ.get("FUSEJIT_DUMP")
        dump_dir = os.path.join(root, f"{graph.name}.{self.trace_count}") if root else None  # one per signature
        graph = optimize_graph(graph, disabled=self.disabled_passes, dump_dir=dump_dir, fast_math=self.fast_math)
        return compile_graph(graph, fuse=self.fuse, device=_device_key(self.device), threads=self.threads,
                             backend=self.backend)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            try:
                fast_key = tuple([(type(a), a.shape, a.dtype) for a in args])
            except AttributeError:
                fast_key = None
            entry = self._fast.get(fast_key) if fast_key is not None else None
            if entry is not None:
                return entry.executable(*args)[0]
        entry, arrays = self._get_entry(args, kwargs)
        if not kwargs and entry.plain and self._symbolic_types is None and not self.static_names \
                and all(type(a) is np.ndarray for a in args) and entry.array_positions == list(range(len(args))):
            self._fast[fast_key] = entry  # type: ignore[index]
        traced = entry.traced
        if entry.variables_read:
            arrays = arrays + [v._value for v in entry.variables_read]
        results = entry.executable(*arrays)
        if entry.variables_assigned:
            n = len(entry.variables_assigned)
            for var, value in zip(entry.variables_assigned, results[-n:]):
                var._value = value  # a fresh array the program wrote: rebinding is the in-place update
            results = results[:-n]
        if entry.single_output and isinstance(traced.out_leaves[0], int):
            return results[0]
        out = [results[leaf] if isinstance(leaf, int) else _copy_static(leaf[1]) for leaf in traced.out_leaves]
        return unflatten(traced.out_tree, out)

    def trace(self, *args: Any, **kwargs: Any) -> Graph:
        """The traced (unoptimized) graph for these arguments; its ``str`` is the IR text."""
        return self._get_entry(args, kwargs)[0].traced.graph

    def lower(self, *args: Any, **kwargs: Any) -> Executable:
        """The compiled program for these arguments: optimized IR, kernels, LLVM IR, assembly."""
        return self._get_entry(args, kwargs)[0].executable

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<fusejit.jit {self.__name__}: {len(self._cache)} compiled signature(s)>"


@dataclass(frozen=True)
class _Static:
    value: Any


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


def compile_graph(graph: Graph, *, fuse: bool = True, device: str = "cpu", threads: int | None = None,
                  backend: str = "auto") -> Executable:
    """Hand an optimized graph to the backend for ``device``."""
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
    return compile_cpu(graph, fuse=fuse, threads=threads)


def jit(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Compile ``fn`` with fusejit; usable as ``@jit``, ``@jit(...)`` or ``jit(fn, ...)``.

    Options: ``static_argnames``/``static_argnums`` (values that specialize the trace),
    ``input_signature`` (list of ``Spec``; ``None`` dims are dynamic), ``fuse`` (False: one kernel
    per op), ``device`` ("cpu", "gpu", "gpu:0"), ``threads``, ``backend`` ("auto", "cpu",
    "reference"), ``disabled_passes``, ``dump_dir``, ``fast_math``.
    """
    if fn is None:
        return lambda f: JitFunction(f, **options)
    return JitFunction(fn, **options)


__all__ = ["ArgumentError", "JitFunction", "Spec", "TracedArray", "TracingError", "Variable", "jit"]
