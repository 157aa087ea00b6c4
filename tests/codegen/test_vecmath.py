"""Vector math: vectorizes to libmvec at O3; matches NumPy within 4 ulp, NaNs and signed zeros exactly.

Each op is compiled into a real loop ``out[i] = op(x[i])`` (the shape the loop codegen emits)
and run on special values tiled so every value passes through the widest vector body, the
vector epilogue and the scalar remainder, plus hypothesis-drawn arrays.

References: NumPy's ufunc in the same dtype; scipy.special.erf for erf; for logistic
scipy.special.expit evaluated one precision higher and rounded, because expit in the target
dtype flushes results below exp's overflow threshold to 0 while fusejit keeps the denormals.
"""

from __future__ import annotations

import ctypes
import functools
import math

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from llvmlite import ir

from fusejit.codegen import vecmath
from tests.isa import LIBMVEC_ABI, cpu_target_machine, loop_vector_bytes

llvm = pytest.importorskip("llvmlite.binding")

MAX_ULP = 4
DTYPES = (np.float32, np.float64)
NUMPY_NAME = {"pow": "power"}
_STATS: dict[tuple[str, str, str], int] = {}  # (isa, dtype, op) -> max ulp seen; printed by -s runs


def reference(op: str, *xs: np.ndarray) -> np.ndarray:
    dt = xs[0].dtype
    with np.errstate(all="ignore"):
        if op == "erf":
            return sc.erf(*xs)
        if op == "erfc":  # C's erfc (scipy's flushes results below ~1e-308 to 0: erfc(27) = 5.2e-319)
            return np.vectorize(math.erfc, otypes=[np.float64])(xs[0].astype(np.float64)).astype(dt)
        if op == "logistic":
            wide = np.float64 if dt == np.float32 else np.longdouble
            return sc.expit(xs[0].astype(wide)).astype(dt)
        return getattr(np, NUMPY_NAME.get(op, op))(*xs)


def _arity(op: str) -> int:
    return vecmath.LIBM_OPS.get(op, (op, 1))[1]


# ---------------------------------------------------------------------------------------------
# kernels


def build_module(isa: str, is_f64: bool) -> ir.Module:
    """One function ``k_<op>(x, [y,] out, n)`` per op: a plain counted loop, as codegen emits."""
    mod = ir.Module("vecmath_test")
    mod.triple = llvm.get_process_triple()
    ty, i64, ptr = (ir.DoubleType() if is_f64 else ir.FloatType()), ir.IntType(64), ir.PointerType()
    for op in sorted(vecmath.MATH_OPS):
        k = _arity(op)
        fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [ptr] * (k + 1) + [i64]), f"k_{op}")
        for a in fn.args[:-1]:
            a.add_attribute("noalias")
        entry, body, done = fn.append_basic_block("entry"), fn.append_basic_block("body"), fn.append_basic_block()
        b = ir.IRBuilder(entry)
        n = fn.args[-1]
        b.cbranch(b.icmp_signed(">", n, i64(0)), body, done)
        b.position_at_end(body)
        i = b.phi(i64)
        i.add_incoming(i64(0), entry)
        xs = [b.load(b.gep(fn.args[j], [i], source_etype=ty), typ=ty) for j in range(k)]
        b.store(vecmath.emit_math(b, op, xs, is_f64, isa), b.gep(fn.args[k], [i], source_etype=ty))
        nxt = b.add(i, i64(1))
        i.add_incoming(nxt, body)
        b.cbranch(b.icmp_signed("<", nxt, n), body, done)
        b.position_at_end(done)
        b.ret_void()
    return mod


def _target_machine(isa: str):
    # 'avx2' is exercised on an AVX-512 host by compiling for Haswell, so LLVM picks the 'd' variants.
    if isa == "avx2" and vecmath.host_isa() == "avx512":
        return llvm.Target.from_default_triple().create_target_machine(cpu="haswell", opt=3)
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3
    )


def optimize(mod: ir.Module, isa: str):
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    m = llvm.parse_assembly(str(mod))
    m.verify()
    tm = _target_machine(isa)
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(m, pb)
    return m, tm


@functools.cache
def kernels(isa: str, dtype: type) -> tuple[object, dict]:
    vecmath.ensure_libmvec_loaded()
    m, _ = optimize(build_module(isa, dtype == np.float64), isa)
    ee = llvm.create_mcjit_compiler(m, _target_machine(isa))  # takes ownership of a fresh TM
    ee.finalize_object()
    fns = {}
    for op in vecmath.MATH_OPS:
        proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (_arity(op) + 1), ctypes.c_int64)
        fns[op] = proto(ee.get_function_address(f"k_{op}"))
    return ee, fns  # keep the engine alive with the function pointers


def run(isa: str, op: str, *xs: np.ndarray) -> np.ndarray:
    xs = tuple(np.ascontiguousarray(x) for x in xs)
    out = np.empty_like(xs[0])
    kernels(isa, xs[0].dtype.type)[1][op](*[x.ctypes.data for x in xs], out.ctypes.data, out.size)
    return out


# ---------------------------------------------------------------------------------------------
# comparison


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in representable values (±0 equal, inf one past max); NaNs must be masked out."""
    it, mask = (np.int32, 0x7FFFFFFF) if a.dtype == np.float32 else (np.int64, 0x7FFF_FFFF_FFFF_FFFF)
    ia, ib = a.view(it), b.view(it)
    ma, mb = (ia & mask).astype(np.uint64), (ib & mask).astype(np.uint64)
    return np.where((ia < 0) == (ib < 0), np.maximum(ma, mb) - np.minimum(ma, mb), ma + mb)


def assert_close(isa: str, op: str, got: np.ndarray, ref: np.ndarray, *xs: np.ndarray) -> None:
    nan_got, nan_ref = np.isnan(got), np.isnan(ref)
    bad = nan_got != nan_ref
    assert not bad.any(), f"{op} NaN mismatch at x={[x[bad][:5] for x in xs]}: got {got[bad][:5]}, want {ref[bad][:5]}"
    zero = (got == 0) & (ref == 0)
    bad = zero & (np.signbit(got) != np.signbit(ref))
    assert not bad.any(), f"{op} sign of zero differs at x={[x[bad][:5] for x in xs]}"
    ok = ~nan_ref
    if not ok.any():
        return
    ulp = ulp_distance(got[ok], ref[ok])
    key = (isa, got.dtype.name, op)
    _STATS[key] = max(_STATS.get(key, 0), int(ulp.max()))
    worst = int(np.argmax(ulp))
    assert ulp[worst] <= MAX_ULP, (
        f"{op}({', '.join(repr(x[ok][worst]) for x in xs)}) = {got[ok][worst]!r}, "
        f"want {ref[ok][worst]!r}: {ulp[worst]:.0f} ulp"
    )


def check(isa: str, op: str, *xs: np.ndarray) -> None:
    assert_close(isa, op, run(isa, op, *xs), reference(op, *xs), *xs)


# ---------------------------------------------------------------------------------------------
# inputs


def special_values(dtype: type) -> np.ndarray:
    fi = np.finfo(dtype)
    d = np.dtype(dtype).type
    with np.errstate(all="ignore"):
        edges = [
            np.log(fi.max), np.log(fi.tiny), np.log(fi.smallest_subnormal),  # exp over/underflow
            np.log(fi.max) + np.log(d(2)), np.arcsinh(fi.max),  # sinh/cosh overflow
            np.log2(fi.max), d(fi.minexp), d(fi.minexp - fi.nmant),  # exp2
            d(1), d(-1), d(0.5), d(np.pi), d(np.pi / 2), d(1e4), d(1e22),  # atanh, asin, trig reduction
            d(3.9), d(4), d(6), d(9), d(20), d(27),  # erf / tanh saturation
        ]
    steps = []
    for e in edges:
        v = d(e)
        for _ in range(2):
            v = np.nextafter(v, d(np.inf))
            steps.append(v)
        v = d(e)
        for _ in range(2):
            v = np.nextafter(v, d(-np.inf))
            steps.append(v)
    fixed = [
        0.0, np.inf, np.nan, 2, 3, 10, 100, 1e-3, 1e-7, 0.1, 1e30, 1.5, 0.75,
        fi.tiny, fi.smallest_subnormal, fi.tiny / 3, fi.max, fi.eps, fi.epsneg,
    ]
    base = np.array(edges + steps + fixed, dtype=dtype)
    vals = np.concatenate([base, -base, [np.nan]]).astype(dtype)
    return vals[np.argsort(vals.view(np.int32 if dtype == np.float32 else np.int64), kind="stable")]


def host_isas() -> list:
    host = vecmath.host_isa()
    out = []
    for isa in vecmath.ISAS:
        if isa == "avx512" and host != "avx512":
            out.append(pytest.param(isa, marks=pytest.mark.skip(reason="host lacks AVX-512 or libmvec")))
        elif isa == "avx2" and host == "none":
            out.append(pytest.param(isa, marks=pytest.mark.skip(reason="host lacks AVX2 or libmvec")))
        else:
            out.append(isa)
    return out


OPS = sorted(vecmath.MATH_OPS)
UNARY = [op for op in OPS if _arity(op) == 1]
BINARY = [op for op in OPS if _arity(op) == 2]
HYPO = settings(max_examples=15, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def tiled(x: np.ndarray) -> np.ndarray:
    """Repeat with a shifting offset so each value lands in vector body, epilogue and remainder."""
    return np.concatenate([np.roll(x, s) for s in range(0, 67, 3)] + [x[:11]])


# ---------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("isa", host_isas())
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", UNARY)
def test_unary_special_values(op, dtype, isa):
    check(isa, op, tiled(special_values(dtype)))


@pytest.mark.parametrize("isa", host_isas())
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", BINARY)
def test_binary_special_values(op, dtype, isa):
    v = special_values(dtype)
    v = np.concatenate([v[::4], np.array([0.5, -0.5, 2, -2, 3, -3, 1, -1, 0, -0.0, np.inf, -np.inf], dtype)])
    x, y = (a.ravel() for a in np.meshgrid(v, v))
    check(isa, op, x, y)


def _arrays(dtype, n=None):
    width = 32 if dtype == np.float32 else 64
    elems = st.one_of(st.floats(width=width), st.floats(-30, 30, width=width))
    return hnp.arrays(dtype, n if n is not None else st.integers(1, 150), elements=elems)


@pytest.mark.parametrize("isa", host_isas())
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", UNARY)
def test_unary_hypothesis(op, dtype, isa):
    @HYPO
    @given(x=_arrays(dtype))
    def prop(x):
        check(isa, op, x)

    prop()


@pytest.mark.parametrize("isa", host_isas())
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", BINARY)
def test_binary_hypothesis(op, dtype, isa):
    @HYPO
    @given(data=st.data())
    def prop(data):
        x = data.draw(_arrays(dtype))
        check(isa, op, x, data.draw(_arrays(dtype, x.size)))

    prop()


def _vector_calls(isa: str, dtype: type) -> str:
    m, tm = optimize(build_module(isa, dtype == np.float64), isa)
    return str(m), tm.emit_assembly(m)


def _vector_calls_for(tm, isa: str, dtype: type) -> str:
    m = llvm.parse_assembly(str(build_module(isa, dtype == np.float64)))
    m.verify()
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(m, pb)
    return str(m)


def _widest_variant(width: int, dtype: type) -> tuple[str, int]:
    """(libmvec ABI letter, lanes) of the vector body for a loop vectorized ``width`` bytes wide."""
    return LIBMVEC_ABI[width], width // np.dtype(dtype).itemsize


@pytest.mark.parametrize("isa", host_isas()[:-1])  # not 'none': it calls scalar libm
def test_exp_loop_calls_the_variant_of_the_loop_width(isa):
    """The vector body calls the libmvec variant as wide as the vectorizer's loops on this CPU:
    AVX-512 ('e', 16 float32 lanes) where it picks 512 bits, AVX2 ('d', 8 lanes) where it picks 256
    (AVX2 CPUs, and AVX-512 CPUs tuned for 256-bit loops)."""
    tm = _target_machine(isa)
    width = loop_vector_bytes(tm)
    ir_text, asm = _vector_calls(isa, np.float32)  # float32 exp itself is inline: see test below
    abi, lanes = _widest_variant(width, np.float32)
    assert f"call <{lanes} x float> @_ZGV{abi}N{lanes}v_exp2f(<{lanes} x float>" in ir_text
    assert f"_ZGV{abi}N{lanes}v_exp2f" in asm
    ir64, _ = _vector_calls(isa, np.float64)
    abi, lanes = _widest_variant(width, np.float64)
    assert f"call <{lanes} x double> @_ZGV{abi}N{lanes}v_exp(<{lanes} x double>" in ir64


def test_avx512_loops_call_the_avx512_variants_on_any_host():
    """Compiled (not run) for Zen 4, which vectorizes loops 512 bits wide: the 'e' variants are
    called, so the AVX-512 table is exercised on AVX2-only machines too."""
    tm = cpu_target_machine("znver4")
    assert loop_vector_bytes(tm) == 64
    assert "call <16 x float> @_ZGVeN16v_exp2f(<16 x float>" in _vector_calls_for(tm, "avx512", np.float32)
    assert "call <8 x double> @_ZGVeN8v_exp(<8 x double>" in _vector_calls_for(tm, "avx512", np.float64)


@pytest.mark.parametrize("isa", host_isas()[:-1])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_op_vectorizes(dtype, isa):
    """No op may leave a scalar libm call in the widest vector body."""
    ir_text, _ = _vector_calls(isa, dtype)
    _every_op_vectorized(ir_text, dtype, loop_vector_bytes(_target_machine(isa)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_op_vectorizes_512_bits_wide_on_any_host(dtype):
    tm = cpu_target_machine("znver4")
    _every_op_vectorized(_vector_calls_for(tm, "avx512", dtype), dtype, 64)


def _every_op_vectorized(ir_text: str, dtype: type, width: int) -> None:
    abi, lanes = _widest_variant(width, dtype)
    for op in OPS:
        body = ir_text.split(f"@k_{op}(")[1].split("\n}\n")[0]
        vec = body.split("vector.body:")[1].split("middle.block:")[0] if "vector.body:" in body else ""
        if op == "sqrt":
            assert "@llvm.sqrt.v" in vec, op
        elif op in ("log", "exp", "logistic", "tanh") and dtype == np.float32:  # inline: _log_f32, _exp_f32 ...
            assert "@llvm.fma.v" in vec and "@logf" not in body and "@expf" not in body and "@tanhf" not in body, op
        elif op in vecmath.SCALAR_ONLY:  # scalar libm on purpose (accuracy): no vector variant offered
            assert "_ZGV" not in body, op
        else:
            assert f"_ZGV{abi}N{lanes}" in vec, f"{op} did not vectorize to libmvec:\n{body}"


@pytest.mark.skipif(vecmath.host_isa() == "none", reason="host lacks AVX2 or libmvec")
def test_inline_exp_f32_is_within_one_ulp_of_the_truth_over_its_whole_range():
    """Dense sweep of [-104, 90] (past both the overflow and the denormal underflow points):
    <= 1 ulp from exp in float64 rounded once, so <= 4 ulp from NumPy (itself up to 3 ulp off)."""
    isa = vecmath.host_isa()
    x = np.concatenate([np.linspace(-104, 90, 400_001, dtype=np.float32),
                        np.float32(np.log(np.finfo(np.float32).tiny)) + np.arange(-64, 64, dtype=np.float32) * 1e-5])
    got = run(isa, "exp", tiled(x[:997]))  # vector body, epilogue and remainder agree
    assert_close(isa, "exp", got, reference("exp", tiled(x[:997])), tiled(x[:997]))
    got = run(isa, "exp", x)
    with np.errstate(over="ignore"):
        truth = np.exp(x.astype(np.float64)).astype(np.float32)
    assert int(ulp_distance(got, truth).max()) <= 1
    assert_close(isa, "exp", got, reference("exp", x), x)


def _tanh_sample() -> np.ndarray:
    """~1.1M float32s: every 4093rd bit pattern (all exponents, denormals included) plus every value
    within 2^-10 relative of the branch point 0.7 and around the clamp (9..10.5)."""
    bits = np.arange(0, 0x7F800000, 4093, dtype=np.uint32)
    around = [np.arange(-(1 << 14), 1 << 14, dtype=np.int64) + int(np.float32(0.7).view(np.int32)),
              np.arange(int(np.float32(9).view(np.int32)), int(np.float32(10.5).view(np.int32)), 97)]
    pos = np.concatenate([bits.view(np.float32)] + [a.astype(np.int32).view(np.float32) for a in around])
    return np.concatenate([pos, -pos])


@pytest.mark.skipif(vecmath.host_isa() == "none", reason="host lacks AVX2 or libmvec")
def test_inline_tanh_f32_is_within_two_ulp_of_the_truth():
    """The inline float32 tanh (``_tanh_f32``; an exhaustive sweep of all 2^32 inputs found <= 2 ulp
    from the truth and from NumPy) on a dense sample, and special values exactly as NumPy."""
    isa = vecmath.host_isa()
    x = _tanh_sample()
    got = run(isa, "tanh", x)
    truth = np.tanh(x.astype(np.float64)).astype(np.float32)
    assert int(ulp_distance(got, truth).max()) <= 2
    assert_close(isa, "tanh", got, reference("tanh", x), x)
    assert np.array_equal(got.view(np.uint32) ^ np.uint32(1 << 31), run(isa, "tanh", -x).view(np.uint32))  # odd
    fi = np.finfo(np.float32)
    tiny = np.array([0.0, -0.0, fi.smallest_subnormal, -fi.tiny / 3, fi.tiny, 1e-30, -2.0**-13], np.float32)
    assert np.array_equal(run(isa, "tanh", tiny).view(np.int32), tiny.view(np.int32))  # x itself, -0.0 too
    big = np.array([10, -10, 10.5, 1e30, fi.max, np.inf, -np.inf, -fi.max], np.float32)
    assert np.array_equal(run(isa, "tanh", big), np.sign(big))
    assert np.isnan(run(isa, "tanh", np.array([np.nan, -np.nan], np.float32))).all()


@pytest.mark.skipif(vecmath.host_isa() == "none", reason="host lacks AVX2 or libmvec")
def test_inline_tanh_f32_scalar_remainder_matches_vector_body():
    x = np.concatenate([np.linspace(-12, 12, 1500, dtype=np.float32), special_values(np.float32)])
    isa = vecmath.host_isa()
    vec = run(isa, "tanh", x)
    one = np.concatenate([run(isa, "tanh", x[i:i + 1]) for i in range(x.size)])  # n = 1: the scalar loop
    assert np.array_equal(vec.view(np.int32), one.view(np.int32))


def test_target_isa():
    assert vecmath.target_isa({"avx512f": True, "avx2": True, "fma": True}) == "avx512"
    assert vecmath.target_isa("+avx2,+fma,-avx512f") == "avx2"
    assert vecmath.target_isa("+avx2,-fma") == "none"
    assert vecmath.target_isa({}) == "none"


def test_no_fast_math_and_plain_libm_for_none():
    mod = build_module("none", False)
    text = str(mod)
    assert "vector-function-abi-variant" not in text and " fast " not in text
    assert 'call float @"expf"' in text


def test_errors():
    b = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []), "f").append_basic_block())
    x = ir.Constant(ir.FloatType(), 1.0)
    with pytest.raises(ValueError, match="unknown op 'gamma'"):
        vecmath.emit_math(b, "gamma", [x], False, "avx512")
    with pytest.raises(ValueError, match="unknown vector_isa 'neon'"):
        vecmath.emit_math(b, "exp", [x], False, "neon")
    with pytest.raises(TypeError, match=r"pow takes 2 argument\(s\) of type float"):
        vecmath.emit_math(b, "pow", [x], False, "avx512")
    with pytest.raises(TypeError, match="exp takes 1 argument"):
        vecmath.emit_math(b, "exp", [x], True, "avx512")


def test_declarations_kept_once():
    mod = build_module("avx512", False)
    used = mod.globals["llvm.compiler.used"]
    names = [e.name for e in used.initializer.constant]
    assert len(names) == len(set(names)) and "_ZGVeN16v_exp2f" in names
