"""The compiled CPU program as a Python callable: argument checks, outputs, one native call.

Hot path (``__call__``, source-generated per program by ``_CallBuilder``): check each argument
is an ndarray of the right dtype (identity test), read the symbolic dims from their first
occurrence, allocate outputs (pooled when large), take a recycled argument table — which
carries its own scratch arena, slot pointers already filled for static shapes — put ``id()``
of every array plus the symbol sizes into it and call the native ``*_py`` entry, which reads
data pointers/shapes/strides from the array objects and checks them (see
:mod:`fusejit.codegen.cpu.pyentry`). Anything unusual — wrong dtype, a non-ndarray, a shape
mismatch, strides that are not whole elements — takes the slow path, which converts or raises
a precise exception. Measured on black_scholes (8 elements, 5 inputs, 2 outputs, 5 slots): the
call costs ~1.1 us above the native work (was ~17-40 us with a per-call ``np.empty`` per slot).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..codegen.cpu import abi
from ..codegen.cpu.module import ERR_NEED_GENERIC
from ..codegen.cpu.pyentry import ERR_ARGS
from ..ir import Graph, Node, bind_symbols
from ..ir.arrays import semantic_subclass_problem
from ..ir.evaluator import bind_attrs
from ..ir.shapes import format_shape
from ..passes.fusion import FusionPlan
from ..profiler import recorder as profiler
from . import allocator
from .executable import MISS

_CFUNC = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
ARENA_MAX = allocator.MIN_POOLED  # scratch up to this size lives in a per-table arena kept between calls
SLOT_ALIGN = abi.SLOT_ALIGN


def _check_array_layout() -> None:
    """The native entry reads ndarray fields at fixed offsets (NumPy's PyArrayObject_fields);
    verify them once on this interpreter and NumPy before trusting them."""
    from ..codegen.cpu.pyentry import OFF_DATA, OFF_DIMS, OFF_ND, OFF_STRIDES

    a = np.zeros((3, 5), np.float32)[:, ::2]
    base = id(a)

    def word(off: int) -> int:
        return ctypes.c_int64.from_address(base + off).value

    dims, strides = word(OFF_DIMS), word(OFF_STRIDES)
    ok = (word(OFF_DATA) == a.__array_interface__["data"][0]
          and ctypes.c_int32.from_address(base + OFF_ND).value == a.ndim
          and [ctypes.c_int64.from_address(dims + 8 * i).value for i in range(2)] == list(a.shape)
          and [ctypes.c_int64.from_address(strides + 8 * i).value for i in range(2)] == list(a.strides))
    if not ok:
        raise RuntimeError(f"fusejit: NumPy {np.__version__}'s ndarray layout differs from the one the CPU "
                           "backend's native entry reads; this NumPy is not supported")


_check_array_layout()


class CpuExecutable:
    """A compiled program; see :class:`fusejit.runtime.executable.Executable`.

    ``inplace`` (output index -> input index): outputs the program writes straight into that
    input's buffer (variable updates, :func:`fusejit.codegen.cpu.abi.inplace_outputs`); the
    result for such an output *is* the input array. Every other result is a fresh array.
    """

    fresh_results = True  # no result shares memory with an argument (except ``inplace`` ones)

    def __init__(self, graph: Graph, plan: FusionPlan, layout: abi.ArgLayout, threads: int, address: int,
                 llvm_ir_fn, asm_fn, fuse: bool, compile_ms: float, from_cache: bool,
                 load_generic: Callable[[], None] | None = None, keepalive: object = None,
                 profiled: Callable[[], Any] | None = None) -> None:
        self.graph = graph
        self._keepalive = keepalive  # owns the native code at ``address``: it lives while this does
        self.plan = plan
        self.fuse = fuse
        self.threads = threads
        self.compile_ms = compile_ms
        self.from_cache = from_cache
        self.inplace = dict(layout.inplace)
        self._llvm_ir_fn = llvm_ir_fn
        self._asm_fn = asm_fn
        self._asm: str | None = None
        self._load_generic = load_generic  # links the generic-stride versions on first need
        self._layout = layout
        self._fn = _CFUNC(address)
        self._nin = len(graph.inputs)
        # NumPy's singletons (by type string: an unpickled dtype is an equal object, not the singleton)
        self._dtypes = [np.empty(0, n.dtype.str).dtype for n in graph.inputs]
        self._sym_src: list[tuple[int, int]] = []
        for s in layout.symbols:
            self._sym_src.append(next((i, j) for i, n in enumerate(graph.inputs)
                                      for j, d in enumerate(n.shape) if d == s))
        sym_pos = {s: k for k, s in enumerate(layout.symbols)}
        self._out_specs = [(tuple(d if isinstance(d, int) else -1 - sym_pos[d] for d in n.shape), n.dtype)
                           for n in layout.output_nodes]
        self._nslots = len(layout.slots)
        self._result_plan = _result_plan(graph, layout)
        self._tables: list = []
        self._table = type("Table", (ctypes.c_int64 * layout.nwords,), {})  # instances carry .arena
        self._profiled = profiled  # compiles the profiling variant (fusejit.profiler) on first need
        builder = _CallBuilder(self)
        self._env = builder.env  # the generated call's globals: its ``fn`` is what the profiler swaps
        self._fast, self._exact, self.probe = builder.build()
        # a per-instance subclass whose __call__ *is* the generated function: no extra frame
        self.__class__ = type(type(self).__name__, (type(self),), {"__call__": staticmethod(self._fast),
                                                                    "__module__": __name__})
        profiler.register(self)

    def _fail(self, rc: int, arrays: tuple, mode: str) -> list[np.ndarray] | object:
        if rc == ERR_ARGS:
            if mode == "exact":
                raise RuntimeError("fusejit: the compiled entry rejected arguments that passed the checks")
            return MISS if mode == "probe" else self._slow(arrays)
        if rc == ERR_NEED_GENERIC and self._generic():
            return self._exact(arrays) if mode == "exact" else self._fast(*arrays)
        self._raise(rc)
        raise AssertionError("unreachable")

    # ---- inspection -------------------------------------------------------------------

    @property
    def kernels(self) -> list:
        return self.plan.kernels

    @property
    def num_kernels(self) -> int:
        return len(self.plan.kernels)

    @property
    def llvm_ir(self) -> str:
        """The generated LLVM IR (before optimization; built on demand after a cache hit)."""
        return self._llvm_ir_fn()

    @property
    def asm(self) -> str:
        if self._asm is None:
            self._asm = self._asm_fn()
        return self._asm

    def describe(self) -> str:
        lines = [f"CpuExecutable {self.graph.name}: {self.num_kernels} kernel(s), "
                 f"fuse={self.fuse}, threads={self.threads}, compiled in {self.compile_ms:.1f} ms"
                 + (" (disk cache)" if self.from_cache else "")]
        lines += [f"  kernel {i}: {k}" for i, k in enumerate(self.plan.kernels)]
        if self._nslots:
            lines.append(f"  {len(self._layout.slots)} scratch slot(s) for intermediates")
        for o, i in self.inplace.items():
            lines.append(f"  output {o} written in place into input {i} ({self.graph.inputs[i].name})")
        return "\n".join(lines)

    __str__ = describe

    def __repr__(self) -> str:
        return f"<CpuExecutable {self.graph.name}: {self.num_kernels} kernels>"

    # ---- calling (the hot path is generated: see _CallBuilder) -----------------------------

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:  # replaced per instance
        return self._fast(*arrays)

    def __reduce__(self) -> tuple:
        """Pickles the optimized graph and the compile options, never the machine code: the
        receiving process compiles it again for its own CPU (a load from the disk cache)."""
        return _recompile, (self.graph, self.fuse, self.threads, self.inplace)

    def _new_table(self):
        """A call's argument table with a scratch arena of its own (slot words filled for static
        shapes); tables are recycled through ``self._tables``, one per concurrent call."""
        t = self._table()
        t.arena, t.base, t.cap = None, 0, 0
        static = self._arena_slot_bytes()
        if static is not None:
            self._place(t, static)
        return t

    def _arena_slot_bytes(self) -> list[int] | None:
        """The slot sizes when they are static and fit one arena (placed once per table, never
        per call); None when the generated call must place scratch itself."""
        if not self._nslots or self._layout.symbols:
            return None
        sizes = [self._layout.slot_bytes(s, {}) for s in range(self._nslots)]
        return sizes if sum(_aligned(n) for n in sizes) <= ARENA_MAX else None

    def _place(self, t, sizes: Sequence[int]) -> list[np.ndarray] | None:
        """Point the slot words of ``t`` at scratch of ``sizes`` bytes: its arena when small,
        else pooled blocks (returned, for the caller to give back after the call)."""
        w = len(self._layout.graph.inputs) + len(self._out_specs)
        need = sum(_aligned(n) for n in sizes)
        if need > ARENA_MAX:
            blocks = [allocator.POOL.take(n) if n >= allocator.MIN_POOLED else np.empty(max(n, 1) + SLOT_ALIGN,
                                                                                         np.uint8)
                      for n in sizes]
            for k, b in enumerate(blocks):
                addr = b.__array_interface__["data"][0]
                t[w + k] = addr + (-addr) % SLOT_ALIGN
            return blocks
        if t.cap < need:
            t.arena = np.empty(need + SLOT_ALIGN, np.uint8)
            addr = t.arena.__array_interface__["data"][0]
            t.base, t.cap = addr + (-addr) % SLOT_ALIGN, need
        off = t.base
        for k, n in enumerate(sizes):
            t[w + k] = off
            off += _aligned(n)
        return None

    @staticmethod
    def _give(blocks: list[np.ndarray]) -> None:
        for b in blocks:
            if b.nbytes >= allocator.MIN_POOLED:
                allocator.POOL.give(b)

    def _source_value(self, node: Node, bindings: dict[str, int]) -> np.ndarray:
        """A computed source result (``numel``); inputs and constants are copied by the generated call."""
        from ..ir.evaluator import run_node

        shape = tuple(bindings[d] if isinstance(d, str) else d for d in node.args[0].shape)
        return run_node(node, [np.empty(shape, node.args[0].dtype)], bindings)

    def _slow(self, arrays: tuple) -> list[np.ndarray]:
        """Convert/verify every argument, then call the fast path with clean arrays."""
        if len(arrays) != self._nin:
            raise TypeError(f"{self.graph.name} takes {self._nin} argument(s), got {len(arrays)}")
        clean = []
        for i, (a, node) in enumerate(zip(arrays, self.graph.inputs)):
            label = node.name or f"input {i}"
            problem = semantic_subclass_problem(a)
            if problem is not None:
                raise TypeError(f"argument {label!r} {problem}")
            if not isinstance(a, np.ndarray):
                a = np.asarray(a)
            if a.dtype != node.dtype and a.dtype.newbyteorder("=") == node.dtype:
                a = a.astype(node.dtype)  # same type, other byte order
            if a.dtype != node.dtype:
                raise TypeError(f"argument {label!r}: expected dtype {node.dtype}, got {a.dtype}")
            if type(a) is not np.ndarray or a.dtype is not self._dtypes[i]:
                # a view, never a copy: an unpickled array (from a Dask worker) carries an equal dtype
                # object that is not NumPy's singleton, and astype(copy=False) would keep it
                a = a.view(np.ndarray).view(self._dtypes[i])
            if any(s % a.itemsize for s in a.strides):
                a = np.ascontiguousarray(a)
            clean.append(a)
        bind_symbols(self.graph, [a.shape for a in clean])  # raises ShapeBindingError
        return self._exact(tuple(clean))

    def _generic(self) -> bool:
        """Link the lazily compiled generic-stride kernels; False if there is nothing to link.
        Idempotent and thread-safe: a thread that met a null pointer before another linked
        them still gets True and reruns its call."""
        if self._load_generic is None:
            return False
        self._load_generic()
        return True

    def _raise(self, rc: int) -> None:
        exc, msg = abi.ERRORS.get(rc, (RuntimeError, f"kernel error code {rc}"))
        op = next((n.op for n in self.graph.nodes
                   if n.op in ("reduce_max", "reduce_min", "argmax", "argmin")), "maximum")
        names = {"reduce_max": "maximum", "reduce_min": "minimum", "argmax": "argmax", "argmin": "argmin"}
        take = next((n for n in self.graph.nodes if n.op in ("take", "scatter_add")), None)  # a gather's gradient
        axis = take.attrs["axis"] if take is not None else 0
        size = "?" if take is None else take.attrs["size"] if take.op == "scatter_add" else take.args[0].shape[axis]
        raise exc(msg.format(op=names.get(op, op), axis=axis, size=size))


def _aligned(n: int) -> int:
    """Bytes a slot takes in an arena: whole cache lines, never zero (no null slot pointer)."""
    return max(-(-n // SLOT_ALIGN) * SLOT_ALIGN, SLOT_ALIGN)


def _result_plan(graph: Graph, layout: abi.ArgLayout) -> list[tuple[str, Any]]:
    """Per graph output: ('out', k) output buffer k; ('copy', k) a copy of it (a value returned
    twice); ('in', j) input j, written in place; ('incopy', j) a copy of that input after the
    call; ('src', node) a source value (input, constant, numel) made after the call."""
    direct = {id(n): k for k, n in enumerate(layout.output_nodes)}
    into = {id(graph.outputs[o]): i for o, i in layout.inplace.items()}
    plan: list[tuple[str, Any]] = []
    used: set[int] = set()
    for oi, o in enumerate(graph.outputs):
        if oi in layout.inplace:
            plan.append(("in", layout.inplace[oi]))
        elif id(o) in into:
            plan.append(("incopy", into[id(o)]))
        elif id(o) in direct:
            k = direct[id(o)]
            plan.append(("copy" if k in used else "out", k))
            used.add(k)
        else:
            plan.append(("src", o))
    return plan


class _CallBuilder:
    """Source-generates the call path of one executable: unrolled argument checks, the outputs,
    the scratch, one native call, the results — no loops and no allocation but the outputs
    (scratch comes with the recycled argument table). ``fast(*args)`` falls back to the slow
    path on anything unusual; ``exact(args)`` is the same code for arguments the slow path
    has already converted (a fallback there is a bug); ``probe(*args)`` returns ``MISS`` instead
    of falling back (the JIT's guess that a call has the signature of its previous one)."""

    def __init__(self, exe: CpuExecutable) -> None:
        self.exe = exe
        layout = exe._layout
        self.nin, self.nout = exe._nin, len(exe._out_specs)
        self.syms = [f"a{i}.shape[{j}]" for i, j in exe._sym_src]
        self.sym_word = self.nin + self.nout + len(layout.slots)
        self.env: dict[str, Any] = {
            "ndarray": np.ndarray, "empty": allocator.empty, "np_empty": np.empty, "array": np.array,
            "fn": exe._fn, "tables": exe._tables, "new_table": exe._new_table, "place": exe._place,
            "give": exe._give, "fail": exe._fail, "slow": exe._slow, "bad": _bad_conversion, "MISS": MISS,
            "source": lambda node, syms: exe._source_value(node, dict(zip(layout.symbols, syms)))}

    def _sym(self, d: int | str) -> str:
        return str(d) if isinstance(d, int) else f"s{self.exe._layout.symbols.index(d)}"

    def _scratch(self) -> list[str]:
        """Code placing the scratch slots (nothing when the table's arena is fixed at creation)."""
        layout = self.exe._layout
        if not layout.slots or self.exe._arena_slot_bytes() is not None:
            return []
        sizes = []
        for slot in layout.slots:
            terms = ["*".join([str(size.factor * item)] + [self._sym(d) for d in size.syms])
                     for size, item in slot.sizes]
            sizes.append(terms[0] if len(terms) == 1 else f"max({', '.join(terms)})")
        return [f"    blocks = place(t, ({''.join(x + ', ' for x in sizes)}))"]

    def _outputs(self) -> list[str]:
        lines = []
        for k, (shape, dt) in enumerate(self.exe._out_specs):
            self.env[f"odt{k}"] = dt
            dims = [str(d) if d >= 0 else f"s{-1 - d}" for d in shape]
            static = all(d >= 0 for d in shape)
            small = static and int(np.prod(shape, dtype=np.int64)) * dt.itemsize < allocator.MIN_POOLED
            lines.append(f"    o{k} = {'np_empty' if small else 'empty'}(({''.join(d + ', ' for d in dims)}), odt{k})")
        return lines

    def _results(self) -> str:
        graph, out = self.exe.graph, []
        for r, (kind, v) in enumerate(self.exe._result_plan):
            if kind in ("out", "in"):
                out.append(f"{'o' if kind == 'out' else 'a'}{v}")
            elif kind in ("copy", "incopy"):
                out.append(f"{'o' if kind == 'copy' else 'a'}{v}.copy()")
            elif v.op == "input":
                out.append(f"array(a{next(i for i, n in enumerate(graph.inputs) if n is v)}, copy=True)")
            elif v.op == "constant":
                self.env[f"c{r}"] = v.attrs["value"]
                out.append(f"array(c{r}, copy=True)")
            else:
                self.env[f"n{r}"] = v
                syms = "".join(f"s{k}, " for k in range(len(self.syms)))
                out.append(f"source(n{r}, ({syms}))")
        return f"[{', '.join(out)}]"

    def _body(self, mode: str) -> list[str]:
        nin = self.nin
        fallback = {"fast": "return slow(args)", "exact": "return bad(args)", "probe": "return MISS"}[mode]
        a = [f"a{i}" for i in range(nin)]
        o = [f"o{k}" for k in range(self.nout)]
        lines = ["def exact(args):" if mode == "exact" else f"def {mode}(*args):",
                 f"    if len(args) != {nin}:", f"        {fallback}"]
        if nin:
            lines.append(f"    {''.join(x + ', ' for x in a)}= args")
        for i, dt in enumerate(self.exe._dtypes):
            self.env[f"dt{i}"] = dt
            lines += [f"    if type(a{i}) is not ndarray or a{i}.dtype is not dt{i}:", f"        {fallback}"]
        if self.syms:
            lines += ["    try:"] + [f"        s{k} = {x}" for k, x in enumerate(self.syms)]
            lines += ["    except IndexError:", f"        {fallback}"]
        lines += self._outputs()
        lines += ["    try:", "        t = tables.pop()", "    except IndexError:", "        t = new_table()"]
        scratch = self._scratch()
        lines += scratch
        head = [f"id({x})" for x in a + o]
        syms = [f"s{k}" for k in range(len(self.syms))]
        if syms and self.sym_word == len(head):
            head, syms = head + syms, []
        lines.append(f"    t[0:{len(head)}] = ({''.join(w + ', ' for w in head)})")
        if syms:
            lines.append(f"    t[{self.sym_word}:{self.sym_word + len(syms)}] = ({''.join(w + ', ' for w in syms)})")
        lines.append("    rc = fn(t)")
        if scratch:
            lines += ["    if blocks is not None:", "        give(blocks)"]
        lines += ["    tables.append(t)", "    if rc:", f"        return fail(rc, args, {mode!r})",
                  f"    return {self._results()}"]
        return lines

    def build(self) -> tuple[Callable[..., list[np.ndarray]], Callable[[tuple], list[np.ndarray]],
                             Callable[..., list[np.ndarray] | object]]:
        source = "\n".join(line for mode in ("fast", "exact", "probe") for line in self._body(mode) + [""])
        exec(source, self.env)  # noqa: S102 - generated from our own signature only
        return self.env["fast"], self.env["exact"], self.env["probe"]


def _recompile(graph: Graph, fuse: bool, threads: int, inplace: dict[int, int]) -> CpuExecutable:
    from ..codegen.cpu import compile_cpu

    return compile_cpu(graph, fuse=fuse, threads=threads, donate=inplace)


def _bad_conversion(args: tuple) -> list[np.ndarray]:
    raise AssertionError("fusejit: the slow path produced arguments the fast path rejects")


__all__ = ["CpuExecutable", "format_shape", "bind_attrs"]
