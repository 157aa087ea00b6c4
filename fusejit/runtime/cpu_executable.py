"""The compiled CPU program as a Python callable: argument checks, outputs, one native call.

Hot path (``__call__``): check each argument is an ndarray of the right dtype (identity
test), read the symbolic dims from their first occurrence, allocate outputs (pooled when
large), put ``id()`` of every array plus the symbol sizes into one ctypes table and call the
native ``*_py`` entry, which reads data pointers/shapes/strides from the array objects and
checks them (see :mod:`fusejit.codegen.cpu.pyentry`). Anything unusual — wrong dtype, a
non-ndarray, a shape mismatch, strides that are not whole elements — takes the slow path,
which converts or raises a precise exception.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np

from ..codegen.cpu import abi
from ..codegen.cpu.module import ERR_NEED_GENERIC
from ..codegen.cpu.pyentry import ERR_ARGS
from ..ir import Graph, Node, bind_symbols
from ..ir.evaluator import bind_attrs
from ..ir.shapes import format_shape
from ..passes.fusion import FusionPlan
from . import allocator

_CFUNC = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


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
    """A compiled program; see :class:`fusejit.runtime.executable.Executable`."""

    def __init__(self, graph: Graph, plan: FusionPlan, layout: abi.ArgLayout, threads: int, address: int,
                 llvm_ir_fn, asm_fn, fuse: bool, compile_ms: float, from_cache: bool,
                 load_generic: Callable[[], None] | None = None) -> None:
        self.graph = graph
        self.plan = plan
        self.fuse = fuse
        self.threads = threads
        self.compile_ms = compile_ms
        self.from_cache = from_cache
        self._llvm_ir_fn = llvm_ir_fn
        self._asm_fn = asm_fn
        self._asm: str | None = None
        self._load_generic = load_generic  # links the generic-stride versions on first need
        self._layout = layout
        self._fn = _CFUNC(address)
        self._table = ctypes.c_int64 * layout.nwords
        self._nin = len(graph.inputs)
        self._dtypes = [np.empty(0, n.dtype).dtype for n in graph.inputs]  # NumPy's singletons
        self._sym_src: list[tuple[int, int]] = []
        for s in layout.symbols:
            self._sym_src.append(next((i, j) for i, n in enumerate(graph.inputs)
                                      for j, d in enumerate(n.shape) if d == s))
        sym_pos = {s: k for k, s in enumerate(layout.symbols)}
        self._out_specs = [(tuple(d if isinstance(d, int) else -1 - sym_pos[d] for d in n.shape), n.dtype)
                           for n in layout.output_nodes]
        self._nslots = len(layout.slots)
        self._pad = [0] * (layout.nwords - self._nin - len(self._out_specs) - self._nslots - len(layout.symbols))
        direct = {id(n): k for k, n in enumerate(layout.output_nodes)}
        self._result_plan = []  # per graph output: ('out', k) | ('copy', k) | ('src', node)
        used: set[int] = set()
        for o in graph.outputs:
            k = direct.get(id(o))
            if k is None:
                self._result_plan.append(("src", o))
            else:
                self._result_plan.append(("copy" if k in used else "out", k))
                used.add(k)
        self._simple = all(p[0] == "out" for p in self._result_plan)
        self._tables: list = []
        if self._simple and not self._nslots:
            # a per-instance subclass whose __call__ *is* the generated function: no extra frame
            fast = self._make_fast_call()
            self.__class__ = type(type(self).__name__, (type(self),), {"__call__": staticmethod(fast),
                                                                        "__module__": __name__})

    def _make_fast_call(self):
        """Source-generate the hot path for this signature (unrolled checks, no loops)."""
        nin, nout = self._nin, len(self._out_specs)
        a = [f"a{i}" for i in range(nin)]
        o = [f"o{k}" for k in range(nout)]
        syms = [f"a{i}.shape[{j}]" for i, j in self._sym_src]
        lines = ["def fast(*args):",
                 f"    if len(args) != {nin}:",
                 "        return call(args, True)",
                 f"    {''.join(x + ', ' for x in a)}= args" if nin else "    pass"]
        for i in range(nin):
            lines += [f"    if type(a{i}) is not ndarray or a{i}.dtype is not dt{i}:",
                      "        return call(args, True)"]
        lines += ["    try:", "        pass"]
        for k, s in enumerate(syms):
            lines.append(f"        s{k} = {s}")
        lines += ["    except IndexError:", "        return call(args, True)"]
        env: dict = {"ndarray": np.ndarray, "call": self._call, "empty": allocator.empty,
                     "np_empty": np.empty, "fn": self._fn, "tables": self._tables, "Table": self._table,
                     "fail": self._fail}
        for i, dt in enumerate(self._dtypes):
            env[f"dt{i}"] = dt
        for k, (shape, dt) in enumerate(self._out_specs):
            env[f"odt{k}"] = dt
            dims = [str(d) if d >= 0 else f"s{-1 - d}" for d in shape]
            tup = "(" + "".join(d + ", " for d in dims) + ")"
            static = all(d >= 0 for d in shape)
            small = static and int(np.prod(shape, dtype=np.int64)) * dt.itemsize < allocator.MIN_POOLED
            lines.append(f"    o{k} = {'np_empty' if small else 'empty'}({tup}, odt{k})")
        words = [f"id({x})" for x in a + o] + [f"s{k}" for k in range(len(syms))]
        lines += ["    try:", "        t = tables.pop()", "    except IndexError:", "        t = Table()",
                  f"    t[0:{len(words)}] = ({''.join(w + ', ' for w in words)})",
                  "    rc = fn(t)", "    tables.append(t)", "    if rc:",
                  "        return fail(rc, args)", f"    return [{', '.join(o)}]"]
        exec("\n".join(lines), env)  # noqa: S102 - generated from our own signature only
        return env["fast"]

    def _fail(self, rc: int, arrays: tuple) -> list[np.ndarray]:
        if rc == ERR_ARGS:
            return self._slow(arrays)
        if rc == ERR_NEED_GENERIC and self._generic():
            return self._call(arrays, True)
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
        return "\n".join(lines)

    __str__ = describe

    def __repr__(self) -> str:
        return f"<CpuExecutable {self.graph.name}: {self.num_kernels} kernels>"

    # ---- calling ------------------------------------------------------------------------

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self._call(arrays, True)

    def _call(self, arrays, retry: bool) -> list[np.ndarray]:
        if len(arrays) != self._nin:
            raise TypeError(f"{self.graph.name} takes {self._nin} argument(s), got {len(arrays)}")
        for a, dt in zip(arrays, self._dtypes):
            if type(a) is not np.ndarray or a.dtype is not dt:
                if retry:
                    return self._slow(arrays)
                if a.dtype != dt:
                    raise AssertionError("slow path produced a wrong dtype")
        try:
            syms = [arrays[i].shape[j] for i, j in self._sym_src]
        except IndexError:
            if retry:
                return self._slow(arrays)
            raise
        outs = [allocator.empty(tuple(d if d >= 0 else syms[-1 - d] for d in shape), dt)
                for shape, dt in self._out_specs]
        if self._nslots:
            blocks = self._scratch(syms)
            slots = [b.__array_interface__["data"][0] for b in blocks]
        else:
            blocks, slots = None, []
        table = self._table(*map(id, arrays), *map(id, outs), *slots, *syms, *self._pad)
        rc = self._fn(table)
        if blocks:
            for b in blocks:
                allocator.POOL.give(b) if b.nbytes >= allocator.MIN_POOLED else None
        if rc:
            if rc == ERR_NEED_GENERIC and self._generic():
                return self._call(arrays, retry)
            if rc == ERR_ARGS:
                if retry:
                    return self._slow(arrays)
                raise RuntimeError("fusejit: the compiled entry rejected arguments that passed the checks")
            self._raise(rc)
        if self._simple:
            return outs
        return self._results(outs, arrays, syms)

    def _scratch(self, syms: list[int]) -> list[np.ndarray]:
        bindings = dict(zip(self._layout.symbols, syms))
        out = []
        for s in range(self._nslots):
            n = max(self._layout.slot_bytes(s, bindings), 1)
            out.append(allocator.POOL.take(n) if n >= allocator.MIN_POOLED else np.empty(n + 64, np.uint8))
        return out

    def _results(self, outs: list[np.ndarray], arrays: tuple, syms: list[int]) -> list[np.ndarray]:
        bindings = dict(zip(self._layout.symbols, syms))
        res = []
        for kind, v in self._result_plan:
            if kind == "out":
                res.append(outs[v])
            elif kind == "copy":
                res.append(outs[v].copy())
            else:
                res.append(self._source_value(v, arrays, bindings))
        return res

    def _source_value(self, node: Node, arrays: tuple, bindings: dict[str, int]) -> np.ndarray:
        if node.op == "input":
            k = next(i for i, n in enumerate(self.graph.inputs) if n is node)
            return np.array(arrays[k], copy=True)
        if node.op == "constant":
            return np.array(node.attrs["value"], copy=True)
        from ..ir.evaluator import run_node

        shape = tuple(bindings[d] if isinstance(d, str) else d for d in node.args[0].shape)
        return run_node(node, [np.empty(shape, node.args[0].dtype)], bindings)

    def _slow(self, arrays: tuple) -> list[np.ndarray]:
        """Convert/verify every argument, then call the fast path with clean arrays."""
        clean = []
        for i, (a, node) in enumerate(zip(arrays, self.graph.inputs)):
            label = node.name or f"input {i}"
            if not isinstance(a, np.ndarray):
                a = np.asarray(a)
            if a.dtype != node.dtype and a.dtype.newbyteorder("=") == node.dtype:
                a = a.astype(node.dtype)  # same type, other byte order
            if a.dtype != node.dtype:
                raise TypeError(f"argument {label!r}: expected dtype {node.dtype}, got {a.dtype}")
            if type(a) is not np.ndarray or a.dtype is not self._dtypes[i]:
                a = a.view(np.ndarray).astype(self._dtypes[i], copy=False)
            if any(s % a.itemsize for s in a.strides):
                a = np.ascontiguousarray(a)
            clean.append(a)
        bind_symbols(self.graph, [a.shape for a in clean])  # raises ShapeBindingError
        return self._call(clean, retry=False)

    def _generic(self) -> bool:
        """Link the lazily compiled generic-stride kernels; False if there is nothing to link."""
        if self._load_generic is None:
            return False
        self._load_generic()
        self._load_generic = None
        return True

    def _raise(self, rc: int) -> None:
        exc, msg = abi.ERRORS.get(rc, (RuntimeError, f"kernel error code {rc}"))
        op = next((n.op for n in self.graph.nodes
                   if n.op in ("reduce_max", "reduce_min", "argmax", "argmin")), "maximum")
        names = {"reduce_max": "maximum", "reduce_min": "minimum", "argmax": "argmax", "argmin": "argmin"}
        take = next((n for n in self.graph.nodes if n.op == "take"), None)
        axis = take.attrs["axis"] if take is not None else 0
        size = take.args[0].shape[axis] if take is not None else "?"
        raise exc(msg.format(op=names.get(op, op), axis=axis, size=size))


__all__ = ["CpuExecutable", "format_shape", "bind_attrs"]
