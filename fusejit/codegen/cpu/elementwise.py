"""Elementwise primitives as LLVM IR on scalars, with NumPy's exact semantics.

:func:`emit_elementwise` dispatches on the operand's dtype class (float, integer, bool),
then on the op name (one ``case`` per op). Emitters see register values (bool is ``i1``);
float16 is computed in float32 and rounded after every op, exactly as NumPy's half loops do. Transcendentals go through
:func:`fusejit.codegen.vecmath.emit_math` so vector loops call libmvec. Integer corner
cases follow NumPy instead of LLVM's undefined behaviour: ``x // 0 == 0``, ``x % 0 == 0``,
``MIN // -1 == MIN``, shifts by >= the bit width give 0 (or -1 for negative ``x >> n``),
and ``int ** negative`` raises ``ValueError`` through the kernel's error code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from .. import vecmath
from .types import F32, F64, I1, reg_type

ERR_NEG_POWER = 4


@dataclass
class OpCtx:
    """What an emitter may use besides its operands."""

    b: ir.IRBuilder
    isa: str
    dtype: np.dtype  # operand dtype (the result dtype for casts is in the emitter)
    raise_if: Callable[[ir.Value, int], None]  # (i1 condition, error code)


def _intrinsic(b: ir.IRBuilder, name: str, args: list[ir.Value]) -> ir.Value:
    ty = args[0].type
    fn = b.module.globals.get(f"llvm.{name}.{_suffix(ty)}")
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ty, [a.type for a in args]), f"llvm.{name}.{_suffix(ty)}")
    return b.call(fn, args)


def _suffix(ty: ir.Type) -> str:
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    return ty.intrinsic_name


def _const(ty: ir.Type, v: float | int) -> ir.Constant:
    return ir.Constant(ty, v)


def _is_signed(dt: np.dtype) -> bool:
    return dt.kind == "i"


# ---- float ops (operands already f32/f64) ------------------------------------------------

def _fsign(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    one, zero = _const(x.type, 1.0), _const(x.type, 0.0)
    r = b.select(b.fcmp_ordered("<", x, zero), _const(x.type, -1.0), zero)
    r = b.select(b.fcmp_ordered(">", x, zero), one, r)
    return b.select(b.fcmp_unordered("uno", x, x), x, r)


def _fmax(b: ir.IRBuilder, x: ir.Value, y: ir.Value, pred: str) -> ir.Value:
    """NumPy maximum/minimum: ``(x pred y || isnan(x)) ? x : y`` (NaN from either side wins).
    Equal operands (``-0.0`` and ``0.0``) give ``y`` in float32/float64, whose NumPy loops are
    x86's ``maxps``/``minps`` (``pred`` strict), and ``x`` in float16 (``>=``/``<=``)."""
    keep = b.or_(b.fcmp_ordered(pred, x, y), b.fcmp_unordered("uno", x, x))
    return b.select(keep, x, y)


def _fdivmod(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """NumPy's npy_divmod for floats: (floor quotient, remainder with the divisor's sign)."""
    ty = x.type
    zero = _const(ty, 0.0)
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    fix = b.and_(b.fcmp_unordered("une", mod, zero),
                 b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero)))
    mod_nz = b.select(fix, b.fadd(mod, y), mod)
    div = b.select(fix, b.fsub(div, _const(ty, 1.0)), div)
    mod = b.select(b.fcmp_ordered("==", mod, zero), _intrinsic(b, "copysign", [zero, y]), mod_nz)
    fl = _intrinsic(b, "floor", [div])
    fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), _const(ty, 0.5)), b.fadd(fl, _const(ty, 1.0)), fl)
    q = b.fdiv(x, y)
    fl = b.select(b.fcmp_ordered("==", div, zero), _intrinsic(b, "copysign", [zero, q]), fl)
    ynz = b.fcmp_unordered("une", y, zero)
    return b.select(ynz, fl, q), b.select(ynz, mod, b.frem(x, y))


def _float_op(op: str, c: OpCtx, xs: list[ir.Value]) -> ir.Value:
    b = c.b
    is64 = xs[0].type == F64
    ty = xs[0].type
    if op in vecmath.MATH_OPS or op == "atan2":
        name = "arctan2" if op == "atan2" else op
        return vecmath.emit_math(b, name, xs, is64, c.isa)
    simple = {"add": b.fadd, "sub": b.fsub, "mul": b.fmul, "div": b.fdiv}
    if op in simple:
        return simple[op](*xs)
    x = xs[0]
    match op:
        case "neg":
            return b.fneg(x)
        case "abs":
            return _intrinsic(b, "fabs", [x])
        case "sign":
            return _fsign(b, x)
        case "floor" | "ceil" | "trunc":
            return _intrinsic(b, op, [x])
        case "rint":
            return _intrinsic(b, "roundeven", [x])
        case "reciprocal":
            return b.fdiv(_const(ty, 1.0), x)
        case "cbrt":
            return _libm(b, "cbrt" if is64 else "cbrtf", xs)
        case "max":
            return _fmax(b, xs[0], xs[1], ">=" if c.dtype.itemsize == 2 else ">")
        case "min":
            return _fmax(b, xs[0], xs[1], "<=" if c.dtype.itemsize == 2 else "<")
        case "fmax":
            return _intrinsic(b, "maxnum", xs)
        case "fmin":
            return _intrinsic(b, "minnum", xs)
        case "copysign":
            return _intrinsic(b, "copysign", xs)
        case "hypot":
            return _libm(b, "hypot" if is64 else "hypotf", xs)
        case "floordiv":
            return _fdivmod(b, xs[0], xs[1])[0]
        case "mod":
            return _fdivmod(b, xs[0], xs[1])[1]
        case "fmod":  # LLVM's frem is C's fmod: the result takes the dividend's sign
            return b.frem(xs[0], xs[1])
    raise NotImplementedError(f"float op {op}")


def _libm(b: ir.IRBuilder, name: str, xs: list[ir.Value]) -> ir.Value:
    """A scalar libm call with no vector variant (cbrt, hypot): still ``memory(none)``."""
    ty = xs[0].type
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ty, [ty] * len(xs)), name)
        fn.attributes.add("nounwind")
        fn.attributes.add("readnone")
    return b.call(fn, xs)


# ---- integer ops -------------------------------------------------------------------------

def _int_divmod(c: OpCtx, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Python-style floor division and modulo; division by zero gives 0 (as NumPy does)."""
    b, ty = c.b, x.type
    zero, one = _const(ty, 0), _const(ty, 1)
    ynz = b.icmp_unsigned("!=", y, zero)
    if not _is_signed(c.dtype):
        safe = b.select(ynz, y, one)
        return b.select(ynz, b.udiv(x, safe), zero), b.select(ynz, b.urem(x, safe), zero)
    minus1 = b.icmp_signed("==", y, _const(ty, -1))
    safe = b.select(b.or_(b.not_(ynz), minus1), one, y)  # avoid /0 and MIN/-1 traps
    q = b.sdiv(x, safe)
    r = b.srem(x, safe)
    adjust = b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("!=", b.icmp_signed("<", r, zero),
                                                                 b.icmp_signed("<", y, zero)))
    q = b.select(adjust, b.sub(q, one), q)
    r = b.select(adjust, b.add(r, y), r)
    q = b.select(minus1, b.neg(x), q)
    r = b.select(minus1, zero, r)
    return b.select(ynz, q, zero), b.select(ynz, r, zero)


def _int_fmod(c: OpCtx, x: ir.Value, y: ir.Value) -> ir.Value:
    """C's truncated remainder (np.fmod); a zero divisor gives 0 (as NumPy does), MIN % -1 is 0."""
    b, ty = c.b, x.type
    zero, one = _const(ty, 0), _const(ty, 1)
    if not _is_signed(c.dtype):
        ynz = b.icmp_unsigned("!=", y, zero)
        return b.select(ynz, b.urem(x, b.select(ynz, y, one)), zero)
    trivial = b.icmp_unsigned("<=", b.add(y, one), one)  # y in {-1, 0}: the remainder is 0
    return b.select(trivial, zero, b.srem(x, b.select(trivial, one, y)))


def _int_pow(c: OpCtx, x: ir.Value, y: ir.Value) -> ir.Value:
    """Exponentiation by squaring over the 64 exponent bits (a fixed, vectorizable loop)."""
    b, ty = c.b, x.type
    if _is_signed(c.dtype):
        c.raise_if(b.icmp_signed("<", y, _const(ty, 0)), ERR_NEG_POWER)
    result, base, e = _const(ty, 1), x, y
    for _ in range(ty.width):
        bit = b.trunc(e, I1)
        result = b.select(bit, b.mul(result, base), result)
        base = b.mul(base, base)
        e = b.lshr(e, _const(ty, 1))
    return result


def _shift(c: OpCtx, op: str, x: ir.Value, y: ir.Value) -> ir.Value:
    b, ty = c.b, x.type
    in_range = b.icmp_unsigned("<", y, _const(ty, ty.width))
    safe = b.select(in_range, y, _const(ty, 0))
    if op == "shl":
        return b.select(in_range, b.shl(x, safe), _const(ty, 0))
    if _is_signed(c.dtype):
        return b.select(in_range, b.ashr(x, safe), b.ashr(x, _const(ty, ty.width - 1)))
    return b.select(in_range, b.lshr(x, safe), _const(ty, 0))


def _int_op(op: str, c: OpCtx, xs: list[ir.Value]) -> ir.Value:
    b = c.b
    signed = _is_signed(c.dtype)
    x = xs[0]
    ty = x.type
    simple = {"add": b.add, "sub": b.sub, "mul": b.mul, "and": b.and_, "or": b.or_, "xor": b.xor}
    if op in simple:
        return simple[op](*xs)
    match op:
        case "neg":
            return b.neg(x)
        case "abs":
            return b.select(b.icmp_signed("<", x, _const(ty, 0)), b.neg(x), x) if signed else x
        case "sign":
            pos = b.zext(b.icmp_unsigned("!=", x, _const(ty, 0)) if not signed
                         else b.icmp_signed(">", x, _const(ty, 0)), ty)
            return b.sub(pos, b.zext(b.icmp_signed("<", x, _const(ty, 0)), ty)) if signed else pos
        case "floor" | "ceil" | "trunc":
            return x
        case "not":
            return b.not_(x)
        case "reciprocal" | "rint":  # NumPy has no integer loop: float64, then cast back
            from .casts import emit_cast

            f = b.sitofp(x, F64) if signed else b.uitofp(x, F64)
            r = b.fdiv(_const(F64, 1.0), f) if op == "reciprocal" else _intrinsic(b, "roundeven", [f])
            return emit_cast(b, r, np.dtype(np.float64), c.dtype)
        case "max":
            return _intrinsic(b, "smax" if signed else "umax", xs)
        case "min":
            return _intrinsic(b, "smin" if signed else "umin", xs)
        case "fmax":
            return _intrinsic(b, "smax" if signed else "umax", xs)
        case "fmin":
            return _intrinsic(b, "smin" if signed else "umin", xs)
        case "floordiv":
            return _int_divmod(c, *xs)[0]
        case "mod":
            return _int_divmod(c, *xs)[1]
        case "fmod":
            return _int_fmod(c, *xs)
        case "pow":
            return _int_pow(c, *xs)
        case "shl" | "shr":
            return _shift(c, op, *xs)
        case "div":  # homogeneous int true-divide: computed in f64, cast back like NumPy
            from .casts import emit_cast

            fs = [b.sitofp(v, F64) if signed else b.uitofp(v, F64) for v in xs]
            return emit_cast(b, b.fdiv(*fs), np.dtype(np.float64), c.dtype)
    raise NotImplementedError(f"integer op {op} on {c.dtype}")


def _bool_op(op: str, c: OpCtx, xs: list[ir.Value]) -> ir.Value:
    b = c.b
    x = xs[0]
    match op:
        case "and" | "mul" | "min" | "fmin":
            return b.and_(*xs)
        case "or" | "add" | "max" | "fmax":
            return b.or_(*xs)
        case "xor" | "ne" | "sub":
            return b.xor(*xs)
        case "not":
            return b.not_(x)
        case "abs" | "floor" | "ceil" | "trunc" | "rint" | "sign":
            return x
        case "pow" | "div":  # 1**0, 0**0 -> 1; 1/0 = inf, 0/0 = nan -> True
            return b.or_(x, b.not_(xs[1]))
    # the rest as NumPy does them: on int8, then back to bool (nonzero)
    i8 = ir.IntType(8)
    r = _int_op(op, OpCtx(b, c.isa, np.dtype(np.int8), c.raise_if), [b.zext(v, i8) for v in xs])
    return b.icmp_unsigned("!=", r, ir.Constant(i8, 0))


_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _compare(op: str, c: OpCtx, xs: list[ir.Value]) -> ir.Value:
    b = c.b
    if c.dtype.kind == "f":
        if op == "ne":
            return b.fcmp_unordered("!=", *xs)
        return b.fcmp_ordered(_CMP[op], *xs)
    if c.dtype.kind == "i":
        return b.icmp_signed(_CMP[op], *xs)
    return b.icmp_unsigned(_CMP[op], *xs)


def _predicate(op: str, c: OpCtx, x: ir.Value) -> ir.Value:
    b = c.b
    if c.dtype.kind != "f":
        if op == "signbit":
            return b.icmp_signed("<", x, ir.Constant(x.type, 0)) if c.dtype.kind == "i" else ir.Constant(I1, 0)
        return ir.Constant(I1, op == "isfinite")
    if op == "isnan":
        return b.fcmp_unordered("uno", x, x)
    if op == "signbit":
        width = x.type.width if hasattr(x.type, "width") else {F32: 32, F64: 64}.get(x.type, 16)
        bits = b.bitcast(x, ir.IntType(width))
        return b.icmp_signed("<", bits, ir.Constant(bits.type, 0))
    ax = _intrinsic(b, "fabs", [x])
    inf = ir.Constant(x.type, float("inf"))
    return b.fcmp_ordered("==", ax, inf) if op == "isinf" else b.fcmp_ordered("<", ax, inf)


def emit_elementwise(op: str, c: OpCtx, xs: list[ir.Value], out_dtype: np.dtype) -> ir.Value:
    """Emit ``op`` on register operands; ``c.dtype`` is the (common) operand dtype."""
    b = c.b
    dt = c.dtype
    if op == "where":
        return b.select(*xs)
    if op in _CMP:
        if dt.kind == "f" and dt.itemsize == 2:
            xs = [b.fpext(v, F32) for v in xs]
        return _compare(op, c, xs)
    if op in ("isnan", "isinf", "isfinite", "signbit"):
        return _predicate(op, c, xs[0])
    if dt.kind == "b":
        return _bool_op(op, c, xs)
    if dt.kind in "iu":
        return _int_op(op, c, xs)
    if dt.itemsize == 2:  # float16: compute in float32, round once per op (NumPy's half loops)
        r = _float_op(op, c, [b.fpext(v, F32) for v in xs])
        return b.fptrunc(r, reg_type(out_dtype))
    return _float_op(op, c, xs)
