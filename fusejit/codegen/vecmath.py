"""Transcendental functions that survive loop vectorization.

Mechanism (chosen after trying it; see tests/codegen/test_vecmath.py): every math op is
emitted as a *scalar* libm call (``expf``, ``atan2`` ...) that carries the call-site
attribute ``"vector-function-abi-variant"`` listing glibc libmvec's vector variants, e.g.
``_ZGV_LLVM_N16v_expf(_ZGVeN16v_expf),_ZGV_LLVM_N8v_expf(_ZGVdN8v_expf),...``. At O3
LLVM's loop vectorizer then replaces the call by ``_ZGVeN16v_expf(<16 x float>)`` in the
main vector body, ``_ZGVdN8v_expf`` in the vector epilogue and keeps ``expf`` for the
scalar remainder. Why this rather than our own polynomials (Eigen/SLEEF style):

- one table covers all 23 libm-backed ops x {f32, f64} x {AVX-512, AVX2, SSE} with
  glibc's tested accuracy (<= 4 ulp, inf/NaN/denormal lanes fall back to scalar libm);
- the loop codegen stays scalar and simple; LLVM picks the vector width and still
  fuses the surrounding arithmetic into the same vector loop;
- measured speed is on par with NumPy's own SIMD/SVML loops (bench/micro_vecmath.py).

Three things make it work, each found by experiment with llvmlite 0.50 / LLVM 22:

1. the call is ``nounwind memory(none)``: a call that may write errno is rejected by
   loop-access analysis even with a vector variant (NumPy ignores errno anyway);
2. the vector declarations are listed in ``@llvm.compiler.used``, otherwise the O3
   pipeline deletes them as unused before the vectorizer looks for them;
3. llvmlite's call attribute set only admits keyword attributes, so the string
   attribute goes through a permissive subclass (``_CallAttrs``).

No fast-math flags are ever set (NumPy semantics). Five ops are not libmvec calls:
``sqrt`` is the ``llvm.sqrt`` intrinsic (correctly rounded, vectorizes natively);
``logistic`` is built from ``exp``; float32 ``log`` (with a vector ISA) is an inline
double-precision polynomial, because libmvec's logf and NumPy's disagree by up to 7 ulp;
float32 ``exp`` (with a vector ISA) is an inline float32 polynomial, because a libmvec call
clobbers every vector register and a row loop (softmax) spills its accumulators around it;
float32 ``tanh`` (with a vector ISA) is inline too (:func:`_tanh_f32`: ``a + a^3/D(a^2)`` below
0.7, ``1 - 2/(e^(2a)+1)`` above, one shared division; <= 2 ulp from the truth and from NumPy,
exhaustively over every float32). Measured against ``_ZGVeN16v_tanhf`` side by side in one
process (200 interleaved pairs, median of the per-pair ratios, load average ~4 on 2 cores; 1 thread
at 32K elements in cache, 2 threads at full size): tanh alone 1.25x faster in cache (0.356 -> 0.288
ns/value) and 1.40x at 4096^2; GELU [4096,4096] 1.22x (7.0 -> 5.8 ms under that load), 1.11x in
cache; the chain ``tanh(x*0.5+y)*z - x/(1+y*y)`` 1.07x at 10^7 (IQR 0.99-1.16), 1.21x in cache.
(An earlier inline ``expm1(2|x|)/(expm1(2|x|)+2)``, commit 3d9c676, measured 0-7% slower than
libmvec in the chain and GELU and was reverted.)
The JIT must call :func:`ensure_libmvec_loaded` before finalizing (``host_isa`` does);
an AOT library must link ``-lmvec -lm``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

from llvmlite import ir
from llvmlite.ir.instructions import CallInstrAttributes

# fusejit op name -> (libm base name, arity). f32 appends "f" (expf, atan2f).
LIBM_OPS: dict[str, tuple[str, int]] = {
    "exp": ("exp", 1), "exp2": ("exp2", 1), "expm1": ("expm1", 1),
    "log": ("log", 1), "log2": ("log2", 1), "log10": ("log10", 1), "log1p": ("log1p", 1),
    "sin": ("sin", 1), "cos": ("cos", 1), "tan": ("tan", 1),
    "arcsin": ("asin", 1), "arccos": ("acos", 1), "arctan": ("atan", 1), "arctan2": ("atan2", 2),
    "sinh": ("sinh", 1), "cosh": ("cosh", 1), "tanh": ("tanh", 1),
    "arcsinh": ("asinh", 1), "arccosh": ("acosh", 1), "arctanh": ("atanh", 1),
    "erf": ("erf", 1), "erfc": ("erfc", 1), "pow": ("pow", 2),
}
MATH_OPS: frozenset[str] = frozenset(LIBM_OPS) | {"sqrt", "logistic"}
# Ops called as scalar libm functions only: glibc's libmvec erfc is 12 ulp off near 4 (measured),
# its scalar erfc within 1 ulp
SCALAR_ONLY: frozenset[str] = frozenset({"erfc"})

# ISA -> libmvec (ISA letter, f32 lanes, f64 lanes), widest first. 'b' = SSE4, 'd' = AVX2,
# 'e' = AVX-512. Narrower variants serve LLVM's vector epilogue loop.
_VARIANTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "avx512": (("e", 16, 8), ("d", 8, 4), ("b", 4, 2)),
    "avx2": (("d", 8, 4), ("b", 4, 2)),
    "none": (),
}
ISAS: tuple[str, ...] = tuple(_VARIANTS)
LIBMVEC = "libmvec.so.1"


class _CallAttrs(CallInstrAttributes):
    """Call-site attributes that also admit LLVM string attributes (``"key"="value"``)."""

    def add(self, name: str) -> None:
        set.add(self, name)


def emit_math(builder: ir.IRBuilder, name: str, args: list[ir.Value], is_f64: bool, vector_isa: str) -> ir.Value:
    """Emit op ``name`` on scalar float ``args`` so that LLVM's loop vectorizer can widen it.

    ``vector_isa`` is one of :data:`ISAS` (from :func:`target_isa`); ``'none'`` gives plain
    libm calls. Declarations are added to ``builder.module`` on first use.
    """
    if name not in MATH_OPS:
        raise ValueError(f"emit_math: unknown op {name!r}; expected one of {sorted(MATH_OPS)}")
    if vector_isa not in _VARIANTS:
        raise ValueError(f"emit_math: unknown vector_isa {vector_isa!r}; expected one of {list(ISAS)}")
    ty = ir.DoubleType() if is_f64 else ir.FloatType()
    arity = LIBM_OPS[name][1] if name in LIBM_OPS else 1
    if len(args) != arity or any(a.type != ty for a in args):
        raise TypeError(f"emit_math: {name} takes {arity} argument(s) of type {ty}, got {[str(a.type) for a in args]}")
    if name in DOMAIN_NAN_OPS:
        return _default_nan(builder, _emit(builder, name, args, ty, arity, is_f64, vector_isa), args)
    return _emit(builder, name, args, ty, arity, is_f64, vector_isa)


# Ops that return NaN for some non-NaN operands (log(-4), arcsin(2), sin(inf), pow(-4, 0.5)).
DOMAIN_NAN_OPS = frozenset({"log", "log2", "log10", "log1p", "sqrt", "sin", "cos", "tan", "arcsin", "arccos",
                            "arccosh", "arctanh", "pow"})


def _default_nan(builder: ir.IRBuilder, r: ir.Value, args: list[ir.Value]) -> ir.Value:
    """``r``, except that a NaN computed from non-NaN operands is x86's default NaN (sign bit set):
    what an invalid SSE/AVX operation gives, and so NumPy's bits for ``log(-4)`` on x86 (glibc and
    NumPy's own SIMD loops, AVX2 and AVX-512 alike), where libmvec, our inline float32 log and
    LLVM's constant folding give +NaN."""
    ordered = builder.fcmp_ordered("ord", args[0], args[-1])
    invalid = builder.and_(builder.fcmp_unordered("uno", r, r), ordered)
    return builder.select(invalid, ir.Constant(r.type, -math.nan), r)


def _emit(builder: ir.IRBuilder, name: str, args: list[ir.Value], ty: ir.Type, arity: int, is_f64: bool,
          vector_isa: str) -> ir.Value:
    if name == "sqrt":
        return builder.call(_declare(builder.module, f"llvm.sqrt.{ty.intrinsic_name}", ty, 1), args)
    if name == "logistic":
        return _logistic(builder, args[0], is_f64, vector_isa)
    if name in _INLINE_F32 and not is_f64 and vector_isa != "none":
        return _INLINE_F32[name](builder, args[0])
    base, _ = LIBM_OPS[name]
    fname = base if is_f64 else base + "f"
    call = builder.call(_declare(builder.module, fname, ty, arity), args)
    attrs = _CallAttrs(["nounwind", "readnone"])  # no errno: lets loop-access analysis pass it
    mappings = []
    for letter, n32, n64 in () if name in SCALAR_ONLY else _VARIANTS[vector_isa]:
        lanes = n64 if is_f64 else n32
        vname = f"_ZGV{letter}N{lanes}{'v' * arity}_{fname}"
        vty = ir.VectorType(ty, lanes)
        _keep_alive(builder.module, _declare(builder.module, vname, vty, arity))
        mappings.append(f"_ZGV_LLVM_N{lanes}{'v' * arity}_{fname}({vname})")
    if mappings:
        attrs.add(f'"vector-function-abi-variant"="{",".join(mappings)}"')
    call.attributes = attrs
    return call


def is_inline(name: str, is_f64: bool, vector_isa: str) -> bool:
    """Is op ``name`` emitted as inline code rather than a libm call? Inline code gives the
    same bits however LLVM vectorizes it (a libmvec call does not: its vector variants and the
    scalar libm function may round differently), and the SLP vectorizer can widen it."""
    if name == "sqrt":
        return True
    name = "exp" if name == "logistic" else name
    return name in _INLINE_F32 and not is_f64 and vector_isa != "none"


def _logistic(builder: ir.IRBuilder, x: ir.Value, is_f64: bool, vector_isa: str) -> ir.Value:
    """1/(1+e^-x) as select(x>=0, 1, e)/(1+e) with e = exp(-|x|).

    e <= 1 never overflows, so large |x| saturates to exactly 1 or to e (keeping denormal
    results instead of flushing them to 0); NaN propagates through e.
    """
    ty = x.type
    ax = builder.call(_declare(builder.module, f"llvm.fabs.{ty.intrinsic_name}", ty, 1), [x])
    e = emit_math(builder, "exp", [builder.fneg(ax)], is_f64, vector_isa)
    one = ir.Constant(ty, 1.0)
    num = builder.select(builder.fcmp_ordered(">=", x, ir.Constant(ty, 0.0)), one, e)
    return builder.fdiv(num, builder.fadd(one, e))


# log1p(f)/f on [sqrt(1/2)-1, sqrt(2)-1], degree 12, Chebyshev least squares against long double:
# relative error 1.6e-11 (2^-35.8), so the single rounding to f32 is almost always correct.
_LOG1P_Q = (
    0.9999999999858766, -0.5000000002882439, 0.3333333433847567, -0.24999994197336414, 0.19999880754868446,
    -0.16666936658222742, 0.1429099582458515, -0.12497648805727771, 0.11005071491875332, -0.0992106391220371,
    0.10031802426676009, -0.09908105564996288, 0.05372974129050941,
)


def _log_f32(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """logf evaluated in double precision, then rounded once: <= 1 ulp from the truth, no libm call.

    libmvec's logf is up to 4 ulp from the truth and NumPy's up to 4 the other way (7 apart);
    this keeps fusejit within 4 ulp of NumPy at about NumPy's speed. ``x = 2^k m`` with
    ``m in [sqrt(1/2), sqrt(2))`` (f32 denormals are normal doubles), ``f = m - 1``,
    ``log x = k ln2 + f Q(f)``: no division, 13 FMAs on doubles.
    """
    d, i64 = ir.DoubleType(), ir.IntType(64)
    fma = _declare(builder.module, "llvm.fma.f64", d, 3)
    xd = builder.fpext(x, d)
    ix = builder.sub(builder.bitcast(xd, i64), i64(0x3FE6A09E667F3BCD))  # bits of sqrt(1/2)
    k = builder.sitofp(builder.ashr(ix, i64(52)), d)
    m = builder.bitcast(builder.add(builder.and_(ix, i64((1 << 52) - 1)), i64(0x3FE6A09E667F3BCD)), d)
    f = builder.fsub(m, d(1.0))
    q = _horner(builder, fma, _LOG1P_Q, f)
    r = builder.call(fma, [k, d(math.log(2)), builder.fmul(f, q)])
    finite_pos = builder.and_(builder.fcmp_ordered(">", xd, d(0.0)), builder.fcmp_ordered("<", xd, d(math.inf)))
    edge = builder.select(builder.fcmp_ordered("==", xd, d(0.0)), d(-math.inf),
                          builder.select(builder.fcmp_ordered("<", xd, d(0.0)), d(math.nan), xd))
    return builder.fptrunc(builder.select(finite_pos, r, edge), x.type)


# exp(r) = 1 + r + r^2 Q(r) on [-ln2/2, ln2/2], Q of degree 4 fitted to the relative error of exp
# (iteratively reweighted least squares, double precision): 3.1e-9 = 0.05 ulp of float32.
_EXPM1_Q = (0.49999993, 0.1666652, 0.04166839, 0.00836875, 0.00138144)
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4  # Cody-Waite split: n * _LN2_HI is exact for |n| < 2^15


def _exp_f32(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """expf inline in float32: <= 1 ulp from the truth, no call, so vector loops keep their registers.

    libmvec's ``_ZGVeN16v_expf`` clobbers every vector register, so a softmax loop spills its
    accumulators around each call. ``x = n ln2 + r`` (Cody-Waite, FMA), ``exp r`` by a degree-6
    polynomial (7 FMAs), ``2^n`` applied as two exact power-of-two factors ``2^(n>>1) 2^(n-(n>>1))``
    so results that overflow become inf and denormal results are rounded once. ``x`` is clamped
    to [-104, 89] first (exp is 0 / inf beyond); NaN propagates.
    """
    f, i32 = ir.FloatType(), ir.IntType(32)
    fma = _declare(builder.module, "llvm.fma.f32", f, 3)
    rint = _declare(builder.module, "llvm.rint.f32", f, 1)
    xc = builder.select(builder.fcmp_ordered("<", x, f(89.0)), x, f(89.0))  # NaN -> 89, restored below
    xc = builder.select(builder.fcmp_ordered(">", xc, f(-104.0)), xc, f(-104.0))
    n = builder.call(rint, [builder.fmul(xc, f(1 / math.log(2)))])
    r = builder.call(fma, [n, f(-_LN2_HI), xc])
    r = builder.call(fma, [n, f(-_LN2_LO), r])
    q = builder.call(fma, [_horner(builder, fma, _EXPM1_Q, r), r, f(1.0)])
    p = builder.call(fma, [q, r, f(1.0)])
    ni = builder.fptosi(n, i32)
    n1 = builder.ashr(ni, i32(1))
    n2 = builder.sub(ni, n1)

    def pow2(k: ir.Value) -> ir.Value:
        return builder.bitcast(builder.shl(builder.add(k, i32(127)), i32(23)), f)

    y = builder.fmul(builder.fmul(p, pow2(n1)), pow2(n2))
    return builder.select(builder.fcmp_unordered("uno", x, x), x, y)


# tanh(a) = a + a^3 / D(s), s = a^2, for a < _TANH_SPLIT: D(s) fits a^3 / (tanh a - a) = -3 - 6s/5 + ...
# (minimax of the resulting tanh error by linear programming on 3000 points, float64, then rounded to
# f32): relative error 2^-26 on [0, 0.7]; the correction is <= 16% of a, so its rounding errors shrink.
_TANH_SPLIT = 0.7
_TANH_D = (-3.000005, -1.199937, 0.0054857293)
# e^(2w) = 1 + w Q(w) on [-ln2/4, ln2/4], Q of degree 4: minimax relative error 2^-23.6 (same method),
# 2^-22.9 with the rounded coefficients; tanh sees it damped by <= 0.32.
_EXP2W_Q = (1.9999992, 1.9999689, 1.333464, 0.670289, 0.26376796)
_ROUND_MAGIC = 1.5 * 2**23  # x + magic rounds x (|x| < 2^22) to an integer held in the low mantissa bits


def _tanh_f32(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """tanhf inline in float32: <= 2 ulp from the truth, one division, no call.

    ``a = |x|``. Below 0.7, ``a + a^3/D(a^2)``. Above, ``1 - 2/(e^(2a)+1)``: ``e^(2a)`` is
    ``2^n e^(2w)`` (``n`` rounded by the magic-number addition, whose low bits are then ``n``
    itself), and its error reaches tanh damped by ``2e^(2a)/(e^(2a)+1)^2 <= 0.32``; ``a`` is
    clamped to 10, where the result rounds to 1. Both branches share one division and one final
    addition; the sign is or-ed back (so -0.0 and denormals come out exactly), NaN takes the
    first branch. 11 multiplies/FMAs per value: Zen 4 issues one 16-lane FMA per cycle.
    """
    f, i32 = ir.FloatType(), ir.IntType(32)
    fma = _declare(builder.module, "llvm.fma.f32", f, 3)

    a = builder.call(_declare(builder.module, "llvm.fabs.f32", f, 1), [x])
    small = builder.fcmp_unordered("ult", a, f(_TANH_SPLIT))
    s = builder.fmul(a, a)
    ac = builder.select(builder.fcmp_ordered("<", a, f(10.0)), a, f(10.0))
    t = builder.call(fma, [ac, f(2 / math.log(2)), f(_ROUND_MAGIC)])
    w = builder.call(fma, [builder.fsub(t, f(_ROUND_MAGIC)), f(-math.log(2) / 2), ac])
    e2w = builder.call(fma, [_horner(builder, fma, _EXP2W_Q, w), w, f(1.0)])
    e = builder.bitcast(builder.add(builder.bitcast(e2w, i32), builder.shl(builder.bitcast(t, i32), i32(23))), f)
    q = builder.fdiv(builder.select(small, builder.fmul(a, s), f(-2.0)),
                     builder.select(small, _horner(builder, fma, _TANH_D, s), builder.fadd(e, f(1.0))))
    y = builder.fadd(builder.select(small, a, f(1.0)), q)
    sign = builder.and_(builder.bitcast(x, i32), i32(-(2**31)))
    return builder.bitcast(builder.or_(builder.bitcast(y, i32), sign), f)


_INLINE_F32 = {"log": _log_f32, "exp": _exp_f32, "tanh": _tanh_f32}


def _horner(builder: ir.IRBuilder, fma: ir.Function, coefs: tuple[float, ...], t: ir.Value) -> ir.Value:
    """``coefs[0] + t (coefs[1] + t (...))`` by FMAs in ``t``'s type (coefficients lowest degree first)."""
    acc = t.type(coefs[-1])
    for c in reversed(coefs[:-1]):
        acc = builder.call(fma, [acc, t, t.type(c)])
    return acc


def _declare(module: ir.Module, name: str, ty: ir.Type, arity: int) -> ir.Function:
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ty, [ty] * arity), name)
    return fn


def _keep_alive(module: ir.Module, fn: ir.Function) -> None:
    """Append ``fn`` to ``@llvm.compiler.used`` (creating it) so O3 keeps the declaration."""
    ptr = ir.PointerType()
    used = module.globals.get("llvm.compiler.used")
    if used is None:
        used = ir.GlobalVariable(module, ir.ArrayType(ptr, 0), "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
        elems: list[ir.Constant] = []
    else:
        elems = list(used.initializer.constant) if used.initializer is not None else []
    if any(getattr(e, "name", None) == fn.name for e in elems):
        return
    elems.append(fn)
    used.value_type = ir.ArrayType(ptr, len(elems))
    used.initializer = ir.Constant(used.value_type, elems)


def target_isa(cpu_features: Mapping[str, bool] | str) -> str:
    """Widest libmvec ISA the CPU runs: ``'avx512'``, ``'avx2'`` or ``'none'``.

    Accepts ``llvm.get_host_cpu_features()`` or its ``.flatten()`` string (``"+avx2,-sse4a"``).
    """
    if isinstance(cpu_features, str):
        on = {f[1:] for f in cpu_features.split(",") if f.startswith("+")}
    else:
        on = {k for k, v in cpu_features.items() if v}
    if "avx512f" in on:
        return "avx512"
    if {"avx2", "fma"} <= on:
        return "avx2"
    return "none"


@functools.cache
def ensure_libmvec_loaded() -> bool:
    """Make libmvec's symbols visible to MCJIT; False when this libc has no libmvec."""
    import llvmlite.binding as llvm

    try:
        llvm.load_library_permanently(LIBMVEC)
    except RuntimeError:
        return False
    return True


@functools.cache
def host_isa() -> str:
    """The ISA to pass to :func:`emit_math` for code JIT-compiled in this process (asked once:
    :func:`fusejit.runtime.engine.bind_symbols` asks first, inside its Ctrl-C-safe section)."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    return target_isa(llvm.get_host_cpu_features()) if ensure_libmvec_loaded() else "none"
