"""Elementwise primitives as Python expressions over typed scalars, for numba-cuda kernel source.

Every value in generated kernels is wrapped in an explicit cast (``t_f32(...)``) so numba never
widens float32 work to float64 through a Python literal. Math functions go through named helpers
(``fn_exp_f32``): on a GPU they bind to libdevice (``expf``), in the simulator to the NumPy ufunc
of the same meaning; ``namespace()`` builds that binding. float16 math runs in float32, as NumPy's
half loops do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special

from ...ir.dtypes import short_name


class CudaLoweringError(NotImplementedError):
    """A graph the GPU backend cannot lower (an op or dtype it does not implement)."""


# op -> (libdevice stem, NumPy/SciPy ufunc used by the simulator)
UNARY_MATH: dict[str, tuple[str, Any]] = {
    "exp": ("exp", np.exp), "exp2": ("exp2", np.exp2), "expm1": ("expm1", np.expm1),
    "log": ("log", np.log), "log2": ("log2", np.log2), "log10": ("log10", np.log10),
    "log1p": ("log1p", np.log1p), "sqrt": ("sqrt", np.sqrt), "cbrt": ("cbrt", np.cbrt),
    "sin": ("sin", np.sin), "cos": ("cos", np.cos), "tan": ("tan", np.tan),
    "arcsin": ("asin", np.arcsin), "arccos": ("acos", np.arccos), "arctan": ("atan", np.arctan),
    "sinh": ("sinh", np.sinh), "cosh": ("cosh", np.cosh), "tanh": ("tanh", np.tanh),
    "arcsinh": ("asinh", np.arcsinh), "arccosh": ("acosh", np.arccosh), "arctanh": ("atanh", np.arctanh),
    "erf": ("erf", scipy.special.erf), "erfc": ("erfc", scipy.special.erfc),
    "floor": ("floor", np.floor), "ceil": ("ceil", np.ceil),
    "trunc": ("trunc", np.trunc), "rint": ("rint", np.rint),
}
BINARY_MATH: dict[str, tuple[str, Any]] = {
    "atan2": ("atan2", np.arctan2), "hypot": ("hypot", np.hypot), "copysign": ("copysign", np.copysign),
    "pow": ("pow", np.power), "fmod": ("fmod", np.fmod),
}
MATH_DTYPES = {"f32": "f", "f64": ""}  # libdevice suffix per compute dtype (float16 computes in f32)

INT_BITS = {np.dtype(t): np.dtype(t).itemsize * 8 for t in (np.int8, np.int16, np.int32, np.int64, np.uint8,
                                                              np.uint16, np.uint32, np.uint64)}


def tname(dt: np.dtype) -> str:
    """Name of the cast function for ``dt`` in kernel source."""
    return "t_" + short_name(dt)


def cast(expr: str, dt: np.dtype) -> str:
    return f"{tname(dt)}({expr})"


def literal(value: Any, dt: np.dtype) -> str:
    """A typed scalar literal."""
    if dt.kind == "b":
        return "True" if bool(value) else "False"
    if dt.kind == "f":
        v = float(value)
        text = "NAN" if math.isnan(v) else ("INF" if v > 0 else "-INF") if math.isinf(v) else repr(v)
        return cast(text, dt)
    return cast(repr(int(value)), dt)


def _math_dtype(dt: np.dtype) -> str:
    return "f64" if dt == np.float64 else "f32"


def _math(op: str, stem_table: dict, args: list[str], dt: np.dtype) -> str:
    return cast(f"fn_{stem_table[op][0]}_{_math_dtype(dt)}({', '.join(args)})", dt)


def _float_only(op: str, dt: np.dtype) -> None:
    if dt.kind != "f":
        raise CudaLoweringError(f"GPU backend: {op} on {dt} is not implemented (only floating point)")


F16, F32 = np.dtype(np.float16), np.dtype(np.float32)


def elementwise(op: str, args: list[str], in_dt: np.dtype, out_dt: np.dtype, attrs: dict[str, Any]) -> str:
    """Python expression computing ``op`` on operand variables ``args``, already cast to ``out_dt``.

    float16 work is done in float32 and rounded once, as NumPy's half loops do; it also keeps
    kernels free of numba-cuda's fp16 library calls."""
    if in_dt == F16 or (out_dt == F16 and op == "cast"):
        wide = [a if op == "where" and k == 0 else cast(a, F32) for k, a in enumerate(args)]
        expr = _elementwise(op, wide, F32 if in_dt == F16 else in_dt, F32 if out_dt == F16 else out_dt, attrs)
        return cast(expr, out_dt) if out_dt == F16 else expr
    return _elementwise(op, args, in_dt, out_dt, attrs)


def _elementwise(op: str, args: list[str], in_dt: np.dtype, out_dt: np.dtype, attrs: dict[str, Any]) -> str:
    a = args[0]
    b = args[1] if len(args) > 1 else ""
    isf, isb = in_dt.kind == "f", in_dt.kind == "b"
    if op in UNARY_MATH:
        if op in ("floor", "ceil", "trunc", "rint") and not isf:
            return cast(a, out_dt)  # NumPy: identity on integers
        _float_only(op, in_dt)
        return _math(op, UNARY_MATH, [a], in_dt)
    if op in ("atan2", "hypot", "copysign"):
        _float_only(op, in_dt)
        return _math(op, BINARY_MATH, [a, b], in_dt)
    if op == "logistic":
        _float_only(op, in_dt)
        one = literal(1, in_dt)
        return cast(f"{one} / ({one} + {_math('exp', UNARY_MATH, [cast('-' + a, in_dt)], in_dt)})", out_dt)
    simple = {"add": "+", "sub": "-", "mul": "*"}
    if op in simple:
        if isb:  # NumPy: add is logical or, mul logical and, sub is an error on bool
            return {"add": f"({a} or {b})", "mul": f"({a} and {b})"}.get(op) or _unsupported(op, in_dt)
        return cast(f"{a} {simple[op]} {b}", out_dt)
    if op == "div":
        if not isf:
            raise CudaLoweringError(f"GPU backend: div on {in_dt} (cast to float first)")
        return cast(f"{a} / {b}", out_dt)
    if op == "fmod" and not isf:  # numba's % floors (divisor's sign); C's fmod truncates (dividend's)
        if isb:
            _unsupported(op, in_dt)
        r = f"({a} % {b})"
        return cast(f"(({r} - {b} if ({r} != 0 and ({r} < 0) != ({a} < 0)) else {r}) if {b} != 0 else {a} - {a})",
                    out_dt)
    if op == "fmod":
        return _math("fmod", BINARY_MATH, [a, b], in_dt)
    if op in ("floordiv", "mod", "pow") and not isf:
        if isb:
            _unsupported(op, in_dt)
        if op == "pow":
            return cast(f"{a} ** {b}", out_dt)
        sym = "//" if op == "floordiv" else "%"  # Python/numba integer // and % floor like NumPy
        return cast(f"({a} {sym} {b} if {b} != 0 else {a} - {a})", out_dt)
    if op == "floordiv":
        return _float_floordiv(a, b, in_dt)
    if op == "mod":  # np.remainder from fmod: the result takes the sign of the divisor
        r, zero = _math("fmod", BINARY_MATH, [a, b], in_dt), literal(0, in_dt)
        signed_zero = _math("copysign", BINARY_MATH, [zero, b], in_dt)
        return f"({r} + {b} if ({r} != {zero} and ({r} < {zero}) != ({b} < {zero})) else " \
               f"({r} if {r} != {zero} else {signed_zero}))"
    if op == "pow":
        return _math("pow", BINARY_MATH, [a, b], in_dt)
    if op in ("max", "min"):
        cmp = ">=" if op == "max" else "<="
        if isf:  # NaN-propagating like np.maximum
            return f"({a} if ({a} {cmp} {b} or {a} != {a}) else {b})"
        return f"({a} if {a} {cmp} {b} else {b})"
    if op in ("fmax", "fmin"):
        cmp = ">=" if op == "fmax" else "<="
        if isf:  # NaN-ignoring like np.fmax
            return f"({a} if ({a} {cmp} {b} or {b} != {b}) else {b})"
        return f"({a} if {a} {cmp} {b} else {b})"
    if op == "neg":
        if isb:
            _unsupported(op, in_dt)
        return cast(f"-{a}", out_dt)
    if op == "abs":
        return a if isb else cast(f"({a} if {a} >= {literal(0, in_dt)} else -{a})", out_dt) if not isf \
            else cast(f"abs({a})", out_dt)
    if op == "sign":
        if isb:
            _unsupported(op, in_dt)
        one, zero = literal(1, in_dt), literal(0, in_dt)
        return f"({one} if {a} > {zero} else ({cast('-1', in_dt) if in_dt.kind != 'u' else zero} " \
               f"if {a} < {zero} else {a}))"
    if op == "reciprocal":
        _float_only(op, in_dt)
        return cast(f"{literal(1, in_dt)} / {a}", out_dt)
    if op == "not":
        return f"(not {a})" if isb else cast(f"~{a}", out_dt)
    if op in ("and", "or", "xor"):
        if isb:
            return {"and": f"({a} and {b})", "or": f"({a} or {b})", "xor": f"({a} != {b})"}[op]
        return cast(f"{a} {dict(zip(('and', 'or', 'xor'), '&|^'))[op]} {b}", out_dt)
    if op in ("shl", "shr"):
        if isb:
            _unsupported(op, in_dt)
        bits = INT_BITS[in_dt]
        sym = "<<" if op == "shl" else ">>"
        zero = literal(0, in_dt)
        sat = zero if op == "shl" or in_dt.kind == "u" else f"({literal(-1, in_dt)} if {a} < 0 else {zero})"
        return f"({sat} if ({b} < 0 or {b} >= {bits}) else {cast(f'{a} {sym} {b}', out_dt)})"
    cmps = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if op in cmps:
        return f"({a} {cmps[op]} {b})"
    if op == "isnan":
        return f"({a} != {a})" if isf else "False"
    if op == "isinf":
        return f"({a} == INF or {a} == -INF)" if isf else "False"
    if op == "isfinite":
        return f"({a} - {a} == {literal(0, in_dt)})" if isf else "True"
    if op == "signbit":
        if isf:
            return f"({_math('copysign', BINARY_MATH, [literal(1, in_dt), a], in_dt)} < {literal(0, in_dt)})"
        return f"({a} < {literal(0, in_dt)})" if in_dt.kind == "i" else "False"
    if op == "where":
        return f"({args[1]} if {a} else {args[2]})"
    if op == "cast":
        if out_dt.kind == "b":
            return f"({a} != {literal(0, in_dt)})"
        if isb:
            return f"({literal(1, out_dt)} if {a} else {literal(0, out_dt)})"
        return cast(a, out_dt)
    return _unsupported(op, in_dt)


def _float_floordiv(a: str, b: str, dt: np.dtype) -> str:
    """NumPy's npy_floor_divide: through fmod, so inf // 2 is NaN and the sign of zero is kept."""
    zero, one, half = literal(0, dt), literal(1, dt), literal(0.5, dt)
    m = _math("fmod", BINARY_MATH, [a, b], dt)
    d = cast(f"({a} - {m}) / {b}", dt)
    d2 = cast(f"{d} - {one} if ({m} != {zero} and (({b} < {zero}) != ({m} < {zero}))) else {d}", dt)
    fl = _math("floor", UNARY_MATH, [d2], dt)
    rounded = cast(f"{fl} + {one} if {d2} - {fl} > {half} else {fl}", dt)
    quotient = cast(f"{a} / {b}", dt)
    return f"({quotient} if {b} == {zero} else ({rounded} if {d2} != {zero} else " \
           f"{_math('copysign', BINARY_MATH, [zero, quotient], dt)}))"


def _unsupported(op: str, dt: np.dtype) -> str:
    raise CudaLoweringError(f"GPU backend: op {op!r} on {dt} is not implemented")


def namespace(cuda: Any, simulator: bool) -> dict[str, Any]:
    """The globals every generated kernel source is executed in."""
    ns: dict[str, Any] = {"cuda": cuda, "math": math, "np": np, "INF": math.inf, "NAN": math.nan}
    for dt in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
               np.float16, np.float32, np.float64):
        ns[tname(np.dtype(dt))] = dt
    if simulator:
        for stem, ufunc in (*UNARY_MATH.values(), *BINARY_MATH.values()):
            for md, t in (("f32", np.float32), ("f64", np.float64)):
                ns[f"fn_{stem}_{md}"] = _sim_math(ufunc, t)
    else:
        from numba.cuda import libdevice

        for stem, _ in (*UNARY_MATH.values(), *BINARY_MATH.values()):
            for md, suffix in MATH_DTYPES.items():
                ns[f"fn_{stem}_{md}"] = getattr(libdevice, stem + suffix)
    return ns


def _sim_math(ufunc: Any, t: type) -> Callable[..., Any]:
    def fn(*xs: Any) -> Any:
        with np.errstate(all="ignore"):
            return t(ufunc(*(t(x) for x in xs)))
    return fn
