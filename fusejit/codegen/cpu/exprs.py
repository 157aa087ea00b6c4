"""Evaluate a kernel's expression at one index point: layout ops become index arithmetic.

``Expr.value(node, idx)`` returns the register value of ``node`` at multi-index ``idx`` (LLVM
``i64`` values, one per dim of ``node``). Buffers (kernel inputs and outputs of earlier
kernels) are loads at ``sum(idx * stride)``; broadcast/transpose/slice/reshape rewrite the
index; concat and update_slice select between clamped loads (every load stays in bounds);
take loads its index, wraps negatives and raises ``IndexError`` through an error flag.
Values are memoized per (node, index) inside one loop body.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir

from ...ir import Node, get_op
from . import abi
from .casts import emit_cast
from .elementwise import OpCtx, emit_elementwise
from .loops import delinearize
from .philox import emit_philox
from .types import I1, I64, PTR, i64, mem_type, reg_type


class FnEnv:
    """Per-function values hoisted to the entry block: dims, strides, buffer pointers."""

    def __init__(self, b: ir.IRBuilder, entry: ir.Block, args: ir.Value, layout: abi.ArgLayout,
                 pointers: dict[int, ir.Value], contiguous: bool) -> None:
        self.b = b
        self.entry = entry
        self.args = args
        self.layout = layout
        self.pointers = pointers  # id(node) -> pointer value (a noalias parameter)
        self.contiguous = contiguous  # inputs are known C-contiguous in this version
        self._words: dict[int, ir.Value] = {}
        self.flags: dict[int, ir.Value] = {}  # error code -> i1 alloca

    def _hoisted(self) -> ir.IRBuilder:
        hb = ir.IRBuilder(self.entry)
        if self.entry.terminator is not None:
            hb.position_before(self.entry.terminator)
        else:
            hb.position_at_end(self.entry)
        return hb

    def word(self, w: int) -> ir.Value:
        if w not in self._words:
            hb = self._hoisted()
            p = hb.gep(self.args, [i64(w)], source_etype=I64)
            self._words[w] = hb.load(p, typ=I64, name=f"w{w}")
        return self._words[w]

    def dim(self, d: int | str) -> ir.Value:
        return i64(d) if isinstance(d, int) else self.word(self.layout.symbol_word[d])

    def dims(self, shape: tuple) -> list[ir.Value]:
        return [self.dim(d) for d in shape]

    def strides(self, node: Node) -> list[ir.Value]:
        """Element strides of ``node``'s buffer: C order for our own buffers; for graph inputs
        the runtime strides, except that the unit-stride versions know the innermost is 1
        (row-strided views such as ``x[:, :1024]`` still get contiguous vector loads)."""
        sw = self.layout.stride_word.get(id(node))
        if sw is not None:
            last = node.ndim - 1
            return [i64(0) if d == 1 else i64(1) if (k == last and self.contiguous) else self.word(sw + k)
                    for k, d in enumerate(node.shape)]
        dims = [self.dim(d) for d in node.shape]  # hoist loads before positioning a builder
        out: list[ir.Value] = []
        acc: ir.Value = i64(1)
        hb = self._hoisted()
        for d, dv in zip(reversed(node.shape), reversed(dims)):
            out.append(i64(0) if d == 1 else acc)
            acc = hb.mul(acc, dv) if not (isinstance(acc, ir.Constant) and acc.constant == 1) else dv
        return out[::-1]

    def raise_if(self, cond: ir.Value, code: int) -> None:
        if code not in self.flags:
            hb = self._hoisted()
            self.flags[code] = hb.alloca(I1, name=f"err{code}")
            hb.store(ir.Constant(I1, 0), self.flags[code])
        b = self.b
        b.store(b.or_(b.load(self.flags[code], typ=I1), cond), self.flags[code])

    def error_code(self) -> ir.Value:
        code: ir.Value = ir.Constant(ir.IntType(32), 0)
        for c, flag in sorted(self.flags.items(), reverse=True):
            code = self.b.select(self.b.load(flag, typ=I1), ir.Constant(ir.IntType(32), c), code)
        return code


class Expr:
    """Expression evaluation for one kernel inside one function."""

    def __init__(self, env: FnEnv, isa: str, leaves: set[int], flat: bool = False,
                 reduced: dict[int, ir.Value] | None = None,
                 constant: Callable[[Node], ir.Value] | None = None) -> None:
        self.env = env
        self.isa = isa
        self.leaves = leaves  # ids of nodes read from memory
        self.flat = flat  # every leaf is read at its own flat index (contiguous, identity map)
        self.reduced = reduced if reduced is not None else {}
        self.constant = constant
        self.memo: dict[tuple, ir.Value] = {}

    @property
    def b(self) -> ir.IRBuilder:
        return self.env.b

    def reset(self) -> None:
        self.memo.clear()

    def address(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        b = self.b
        if self.flat:
            off = idx[0] if node.ndim else i64(0)
        else:
            off = i64(0)
            for i, s in zip(idx, self.env.strides(node)):
                if isinstance(s, ir.Constant) and s.constant == 0:
                    continue
                term = i if isinstance(s, ir.Constant) and s.constant == 1 else b.mul(i, s)
                off = term if isinstance(off, ir.Constant) and off.constant == 0 else b.add(off, term)
        return b.gep(self.pointer(node), [off], source_etype=mem_type(node.dtype))

    def pointer(self, node: Node) -> ir.Value:
        if id(node) in self.env.pointers:
            return self.env.pointers[id(node)]
        assert self.constant is not None and node.op == "constant", node
        return self.constant(node)

    def load(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        v = self.b.load(self.address(node, idx), typ=mem_type(node.dtype))
        return self.b.trunc(v, I1) if node.dtype.kind == "b" else v

    def store(self, node: Node, idx: list[ir.Value], v: ir.Value) -> None:
        if node.dtype.kind == "b":
            v = self.b.zext(v, mem_type(node.dtype))
        self.b.store(v, self.address(node, idx))

    def value(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        key = (id(node), tuple(id(i) for i in idx))
        v = self.memo.get(key)
        if v is None:
            self._operands_first(node, idx, key[1])
            v = self._compute(node, idx)
            self.memo[key] = v
        return v

    def _same_index_operands(self, node: Node) -> tuple[Node, ...]:
        """The operands ``_compute`` evaluates at ``node``'s own index (casts, elementwise ops)."""
        if id(node) in self.reduced or id(node) in self.leaves:
            return ()
        return node.args if node.op == "cast" or get_op(node.op).fusion == "elementwise" else ()

    def _operands_first(self, node: Node, idx: list[ir.Value], ids: tuple[int, ...]) -> None:
        """Evaluate the chain of same-index operands below ``node`` deepest first, with an explicit
        stack: each ``_compute`` then finds its operands in ``memo``, so the Python recursion depth
        does not grow with the chain (a 50,000-op elementwise chain is one kernel, not a RecursionError)."""
        stack = [(a, False) for a in reversed(self._same_index_operands(node))]  # popped in operand order
        while stack:
            n, ready = stack.pop()
            key = (id(n), ids)
            if key in self.memo:
                continue
            if ready:
                self.memo[key] = self._compute(n, idx)
                continue
            stack.append((n, True))
            stack.extend((a, False) for a in reversed(self._same_index_operands(n)) if (id(a), ids) not in self.memo)

    def _compute(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        if id(node) in self.reduced:
            return self.reduced[id(node)]
        if node.op == "constant" and node.attrs["value"].size == 1 and node.ndim == 0:
            return _scalar_constant(node)
        if node.op == "numel":
            n = i64(1)
            for a in node.attrs["axes"]:
                n = self.b.mul(n, self.env.dim(node.args[0].shape[a]))
            return emit_cast(self.b, n, np.dtype(np.int64), node.dtype)
        if id(node) in self.leaves:
            return self.load(node, idx)
        b = self.b
        op = node.op
        if op == "cast":
            return emit_cast(b, self.value(node.args[0], idx), node.args[0].dtype, node.dtype)
        if get_op(op).fusion == "elementwise":
            xs = [self.value(a, idx) for a in node.args]
            operand_dt = node.args[1].dtype if op == "where" else node.args[0].dtype
            ctx = OpCtx(b, self.isa, operand_dt, self.env.raise_if)
            return emit_elementwise(op, ctx, xs, node.dtype)
        handler = getattr(self, "_" + op, None)
        if handler is None:
            raise NotImplementedError(f"cpu codegen: cannot evaluate {op} inside a kernel")
        return handler(node, idx)

    # ---- layout ops -----------------------------------------------------------------------

    def _broadcast(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        arg = node.args[0]
        off = node.ndim - arg.ndim
        return self.value(arg, [i64(0) if arg.shape[j] == 1 else idx[j + off] for j in range(arg.ndim)])

    def _transpose(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        arg = node.args[0]
        src: list[ir.Value] = [i64(0)] * arg.ndim
        for k, p in enumerate(node.attrs["perm"]):
            src[p] = idx[k]
        return self.value(arg, src)

    def _reshape(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        arg = node.args[0]
        big_src = [d for d in arg.shape if d != 1]
        big_dst = [(j, d) for j, d in enumerate(node.shape) if d != 1]
        if big_src == [d for _, d in big_dst]:
            it = iter(idx[j] for j, _ in big_dst)
            return self.value(arg, [i64(0) if d == 1 else next(it) for d in arg.shape])
        b = self.b
        flat = i64(0)
        for i, d in zip(idx, node.shape):
            flat = b.add(b.mul(flat, self.env.dim(d)), i)
        return self.value(arg, delinearize(b, flat, self.env.dims(arg.shape)))

    def _slice(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        b = self.b
        a = node.attrs
        src = []
        for i, start, step in zip(idx, a["starts"], a["steps"]):
            if (start, step) == (0, 1):
                src.append(i)
            else:
                src.append(b.add(i64(start), b.mul(i, i64(step))) if step != 1 else b.add(i, i64(start)))
        return self.value(node.args[0], src)

    def _concat(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        b = self.b
        axis = node.attrs["axis"]
        result = None
        start = 0
        for arg in node.args:
            n = arg.shape[axis]
            if n == 0:
                continue
            local = b.sub(idx[axis], i64(start))
            clamped = _clamp(b, local, n)
            v = self.value(arg, idx[:axis] + [clamped] + idx[axis + 1:])
            result = v if result is None else b.select(b.icmp_signed(">=", local, i64(0)), v, result)
            start += n
        assert result is not None
        return result

    def _update_slice(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        b = self.b
        base, upd = node.args
        a = node.attrs
        inside: ir.Value = ir.Constant(I1, 1)
        src = []
        for i, start, step, n in zip(idx, a["starts"], a["steps"], upd.shape):
            if n == 0:
                return self.value(base, idx)
            if isinstance(n, str):  # symbolic dims are taken whole
                src.append(i)
                continue
            rel = b.sub(i, i64(start))
            q = b.sdiv(rel, i64(step))
            ok = b.and_(b.icmp_signed("==", b.srem(rel, i64(step)), i64(0)),
                        b.and_(b.icmp_signed(">=", q, i64(0)), b.icmp_signed("<", q, i64(n))))
            inside = b.and_(inside, ok)
            src.append(_clamp(b, q, n))
        return b.select(inside, self.value(upd, src), self.value(base, idx))

    def _philox(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        """Random words at this point: the state is read whole, the counter is the flat index."""
        b, state = self.b, node.args[0]
        words = [self.value(state, [i64(k)]) for k in range(4)]
        flat = idx[0] if self.flat and node.ndim else i64(0)
        if not self.flat:
            for i, d in zip(idx, node.shape):
                flat = b.add(b.mul(flat, self.env.dim(d)), i)
        a = node.attrs
        return emit_philox(b, words, a["stream"], flat, a["word"], node.dtype.itemsize == 8)

    def _take(self, node: Node, idx: list[ir.Value]) -> ir.Value:
        b = self.b
        x, ind = node.args
        axis = node.attrs["axis"] % x.ndim
        q = ind.ndim
        raw = self.value(ind, idx[axis:axis + q])
        k = b.sext(raw, I64) if ind.dtype.kind == "i" and ind.dtype.itemsize < 8 else (
            b.zext(raw, I64) if ind.dtype.itemsize < 8 else raw)
        n = self.env.dim(x.shape[axis])
        if ind.dtype.kind == "i":
            k = b.select(b.icmp_signed("<", k, i64(0)), b.add(k, n), k)
        bad = b.or_(b.icmp_signed("<", k, i64(0)), b.icmp_signed(">=", k, n)) if ind.dtype.kind == "i" \
            else b.icmp_unsigned(">=", k, n)
        self.env.raise_if(bad, abi.ERR_TAKE_OOB)
        k = b.select(bad, i64(0), k)
        return self.value(x, idx[:axis] + [k] + idx[axis + q:])


def _clamp(b: ir.IRBuilder, i: ir.Value, n: int) -> ir.Value:
    i = b.select(b.icmp_signed("<", i, i64(0)), i64(0), i)
    return b.select(b.icmp_signed(">", i, i64(n - 1)), i64(n - 1), i)


def _scalar_constant(node: Node) -> ir.Value:
    v = node.attrs["value"].reshape(()).item()
    ty = reg_type(node.dtype)
    if node.dtype.kind == "b":
        return ir.Constant(I1, int(bool(v)))
    if node.dtype.kind == "f":
        return ir.Constant(ty, float(v))
    return ir.Constant(ty, int(v) & ((1 << ty.width) - 1))


__all__ = ["Expr", "FnEnv", "PTR"]
