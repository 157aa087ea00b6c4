"""The Python-facing entry: ``int32 <name>_py(int64 *table)`` taking ndarray *objects*.

Reading ``arr.ctypes.data`` costs ~1.4 µs per array; ``id(arr)`` costs 30 ns. So Python puts
the addresses of the argument and output ndarray objects in the table, and this wrapper
reads ``data``, ``nd``, ``dimensions`` and ``strides`` from NumPy's stable
``PyArrayObject_fields`` layout (offsets checked at import time by the runtime), checks
every shape against the static dims and the symbol sizes Python bound, converts byte
strides to element strides, rewrites the table into the plain C ABI of :mod:`.abi` and
calls the program entry. A mismatch returns ``ERR_ARGS`` and Python re-checks slowly to
raise a precise error (or copies an argument whose strides are not whole elements).

A program with in-place outputs (:func:`.abi.inplace_outputs`) overwrites an input, so it
cannot be rerun after a kernel asks for its lazily compiled generic-stride version
(``ERR_NEED_GENERIC``): this entry asks first — before any kernel runs — whenever an input
is not C-contiguous and a generic version is still missing.
"""

from __future__ import annotations

from llvmlite import ir

from ...ir import Graph
from . import abi
from .module import ERR_NEED_GENERIC, glue
from .types import I32, I64, PTR, i64

ERR_ARGS = 100
OFF_DATA, OFF_ND, OFF_DIMS, OFF_STRIDES = 16, 24, 32, 40


def emit_pyentry(module: ir.Module, graph: Graph, layout: abi.ArgLayout, entry: ir.Function) -> ir.Function:
    fn = glue(ir.Function(module, ir.FunctionType(I32, [PTR]), entry.name + "_py"))
    table = fn.args[0]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    bad = b.append_basic_block("bad")
    ok_cond: ir.Value = ir.Constant(ir.IntType(1), 1)

    def slot(w: int) -> ir.Value:
        return b.gep(table, [i64(w)], source_etype=I64)

    def field(obj: ir.Value, off: int, ty: ir.Type) -> ir.Value:
        return b.load(b.gep(obj, [i64(off)], source_etype=ir.IntType(8)), typ=ty)

    objs = [b.inttoptr(b.load(slot(i), typ=I64), PTR) for i in range(len(graph.inputs))]
    outs = [b.inttoptr(b.load(slot(len(graph.inputs) + i), typ=I64), PTR) for i in range(len(layout.output_nodes))]
    for node, obj in zip(graph.inputs, objs):
        ok_cond = b.and_(ok_cond, b.icmp_signed("==", field(obj, OFF_ND, I32), ir.Constant(I32, node.ndim)))
    # only read dims/strides once every ndim is known to match
    check = b.append_basic_block("check")
    b.cbranch(ok_cond, check, bad)
    b.position_at_end(check)
    ok_cond = ir.Constant(ir.IntType(1), 1)
    for i, (node, obj) in enumerate(zip(graph.inputs, objs)):
        dims = field(obj, OFF_DIMS, PTR)
        strides = field(obj, OFF_STRIDES, PTR)
        item = i64(node.dtype.itemsize)
        for j, d in enumerate(node.shape):
            actual = b.load(b.gep(dims, [i64(j)], source_etype=I64), typ=I64)
            want = i64(d) if isinstance(d, int) else b.load(slot(layout.symbol_word[d]), typ=I64)
            ok_cond = b.and_(ok_cond, b.icmp_signed("==", actual, want))
            st = b.load(b.gep(strides, [i64(j)], source_etype=I64), typ=I64)
            ok_cond = b.and_(ok_cond, b.icmp_signed("==", b.srem(st, item), i64(0)))
            b.store(b.sdiv(st, item), slot(layout.stride_word[id(node)] + j))
        b.store(b.ptrtoint(field(obj, OFF_DATA, PTR), I64), slot(i))
    for i, obj in enumerate(outs):
        b.store(b.ptrtoint(field(obj, OFF_DATA, PTR), I64), slot(len(graph.inputs) + i))
    go = b.append_basic_block("go")
    b.cbranch(ok_cond, go, bad)
    b.position_at_end(go)
    generic = [g for name, g in module.globals.items() if name.startswith(entry.name + "_genptr")]
    if layout.inplace and generic:
        missing = _not_contiguous(b, graph, layout, slot)
        unlinked: ir.Value = ir.Constant(ir.IntType(1), 0)
        for g in generic:
            unlinked = b.or_(unlinked, b.icmp_unsigned("==", b.load(g, typ=PTR), ir.Constant(PTR, None)))
        with b.if_then(b.and_(missing, unlinked), likely=False):
            b.ret(ir.Constant(I32, ERR_NEED_GENERIC))
    b.ret(b.call(entry, [table]))
    b.position_at_end(bad)
    b.ret(ir.Constant(I32, ERR_ARGS))
    return fn


def _not_contiguous(b: ir.IRBuilder, graph: Graph, layout: abi.ArgLayout, slot) -> ir.Value:
    """Some input is not C-contiguous over its non-1 dims (what makes a kernel pick its generic
    version; see ``module._run``), from the element strides and dims already in the table."""
    bad: ir.Value = ir.Constant(ir.IntType(1), 0)
    for node in graph.inputs:
        expect: ir.Value = i64(1)
        for j in reversed(range(node.ndim)):
            d = node.shape[j]
            if d == 1:
                continue
            st = b.load(slot(layout.stride_word[id(node)] + j), typ=I64)
            bad = b.or_(bad, b.icmp_signed("!=", st, expect))
            expect = b.mul(expect, i64(d) if isinstance(d, int) else b.load(slot(layout.symbol_word[d]), typ=I64))
    return bad
