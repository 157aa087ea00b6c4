"""Every elementwise primitive and cast, compiled, against the reference evaluator."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fusejit
from fusejit.codegen.cpu import compile_cpu
from fusejit.ir import Graph, Node, get_op, make, ops_of_class
from fusejit.ir.shapes import TensorType
from tests.helpers import assert_same

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]
FLOAT_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.7, 1e-3, 100.0, -100.0, np.inf, -np.inf, np.nan, 1e-40, 7.0]


def values(dt: np.dtype, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dt.kind == "f":
        v = np.concatenate([np.array(FLOAT_SPECIALS), rng.standard_normal(n) * 4])
        return v.astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, n + 15).astype(bool)
    info = np.iinfo(dt)
    edges = np.array([info.min, info.max, 0, 1, 2, 3, info.min + 1, info.max - 1], dtype=dt)
    small = rng.integers(max(info.min, -9), min(info.max, 9), n, dtype=np.int64).astype(dt)
    wide = rng.integers(info.min, info.max, 7, dtype=dt, endpoint=True)
    return np.concatenate([edges, small, wide])


def graph_for(op: str, dt: np.dtype, n: int) -> Graph | None:
    arity = get_op(op).arity or 1
    ins = [Node("input", (), {}, TensorType(dt, (n,)), name=f"x{i}") for i in range(arity)]
    args = list(ins)
    if op == "where":
        args[0] = Node("input", (), {}, TensorType(np.dtype(bool), (n,)), name="c")
        ins[0] = args[0]
    try:
        out = make(op, *args)
    except TypeError:
        return None
    return Graph(ins, [out], name=op)


ELEMENTWISE = sorted(set(ops_of_class("elementwise")) - {"cast"})


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_op_matches_reference_on_every_dtype(op: str) -> None:
    checked = 0
    for name in DTYPES:
        dt = np.dtype(name)
        n = 33
        g = graph_for(op, dt, len(values(dt, n, 0)))
        if g is None:
            continue
        args = [values(node.dtype, n, seed) for seed, node in enumerate(g.inputs)]
        if op in ("pow", "shl", "shr") and dt.kind in "iu":
            args[1] = np.abs(args[1] % (8 * dt.itemsize)).astype(dt)
        try:
            with np.errstate(all="ignore"):
                expected = g.evaluate(*args)
        except TypeError:  # NumPy has no loop for this dtype (e.g. negative on bool)
            continue
        exe = compile_cpu(g)
        tol = {2: 4e-3, 4: 4e-6, 8: 1e-13}.get(dt.itemsize, 0.0) if dt.kind == "f" else None
        assert_same(exe(*args), expected, rtol=tol, what=f"{op} on {dt}")
        checked += 1
    assert checked


@pytest.mark.parametrize("src", DTYPES)
def test_casts_match_numpy_including_out_of_range(src: str) -> None:
    sdt = np.dtype(src)
    x = values(sdt, 20, 3)
    if sdt.kind == "f":
        x = np.concatenate([x, np.array([3e9, -3e9, 1e20, -1e20, 300.7, -300.7, 70000.0, 2.0**63, 2.0**64],
                                        dtype=np.float64).astype(sdt)])
    for dst in DTYPES:
        ddt = np.dtype(dst)
        inp = Node("input", (), {}, TensorType(sdt, (len(x),)), name="x")
        g = Graph([inp], [make("cast", inp, dtype=ddt)], name="cast")
        assert_same(compile_cpu(g)(x), g.evaluate(x), rtol=0.0, what=f"{src} -> {dst}")


def test_integer_division_by_zero_and_min_over_minus_one_do_not_trap() -> None:
    dt = np.dtype(np.int32)
    a = np.array([7, -7, 7, -7, np.iinfo(dt).min, 0, 5], dtype=dt)
    b = np.array([0, 0, -2, 2, -1, 0, 3], dtype=dt)
    for op in ("floordiv", "mod"):
        x, y = (Node("input", (), {}, TensorType(dt, (7,)), name=n) for n in "xy")
        g = Graph([x, y], [make(op, x, y)])
        with np.errstate(all="ignore"):
            assert_same(compile_cpu(g)(a, b), g.evaluate(a, b), what=op)


def test_negative_integer_power_raises_value_error_like_numpy() -> None:
    dt = np.dtype(np.int64)
    x, y = (Node("input", (), {}, TensorType(dt, (3,)), name=n) for n in "xy")
    exe = compile_cpu(Graph([x, y], [make("pow", x, y)]))
    assert exe(np.array([2, 3, 4]), np.array([1, 2, 3]))[0].tolist() == [2, 9, 64]
    with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed"):
        exe(np.array([2, 3, 4]), np.array([1, -2, 3]))


ARITH_CHAIN = """func @arith(%x: f32[N], %y: f32[N], %z: f32[N]) -> (f32[N]) {
  %h = constant() {value=0.5} : f32[]
  %hb = broadcast(%h) {shape=[N]} : f32[N]
  %0 = mul(%x, %hb) : f32[N]
  %1 = add(%0, %y) : f32[N]
  %2 = abs(%1) : f32[N]
  %3 = sqrt(%2) : f32[N]
  %4 = mul(%3, %z) : f32[N]
  %5 = div(%x, %4) : f32[N]
  %6 = max(%5, %y) : f32[N]
  %7 = cast(%6) {dtype=f16} : f16[N]
  %8 = cast(%7) {dtype=f32} : f32[N]
  %9 = sub(%8, %z) : f32[N]
  return %9
}"""


def test_fused_and_unfused_chains_agree_bitwise() -> None:
    """No reassociation happens, so fusing must not change a single bit. (libm-backed ops
    are excluded: libmvec's vector variants and scalar libm may differ by 1 ulp, and which
    tail elements take the scalar path depends on the loop.)"""
    from fusejit.ir import parse

    g = parse(ARITH_CHAIN)
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(1001).astype(np.float32) for _ in range(3)]
    fused, unfused = compile_cpu(g), compile_cpu(g, fuse=False)
    assert fused.num_kernels == 1 and unfused.num_kernels > 5
    want = g.evaluate(*args)[0].view(np.uint32)
    np.testing.assert_array_equal(fused(*args)[0].view(np.uint32), want)
    np.testing.assert_array_equal(unfused(*args)[0].view(np.uint32), want)


def test_inner_loops_vectorize_at_the_targets_loop_width() -> None:
    """The chain's loop uses the registers of the width LLVM's vectorizer picks for this CPU
    (zmm on Zen 4, ymm on AVX2 and on AVX-512 CPUs tuned for 256-bit loops), never only scalars."""
    from fusejit.codegen.vecmath import host_isa
    from fusejit.ir import parse
    from tests.cpu_graphs import CHAIN
    from tests.isa import REGISTER, host_loop_vector_bytes

    width = host_loop_vector_bytes()
    assert width >= 16  # every x86-64 has SSE2
    asm = compile_cpu(parse(CHAIN)).asm
    assert f"%{REGISTER[width]}" in asm
    if host_isa() != "none":
        assert "tanhf" not in asm  # float32 tanh is inline (vecmath._tanh_f32), no libm call


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


FLOATS = [np.float16, np.float32, np.float64]
DOMAIN_ERRORS = {  # a NaN from non-NaN operands: NumPy's is x86's default NaN, sign bit set
    "log": (np.log, -4.0), "log2": (np.log2, -4.0), "log10": (np.log10, -4.0), "log1p": (np.log1p, -4.0),
    "sqrt": (np.sqrt, -4.0), "arcsin": (np.arcsin, 4.0), "arccos": (np.arccos, -4.0),
    "arccosh": (np.arccosh, 0.5), "arctanh": (np.arctanh, 2.0), "sin": (np.sin, np.inf), "cos": (np.cos, -np.inf),
    "tan": (np.tan, np.inf), "power": (lambda x: np.power(x, x.dtype.type(0.5)), -4.0),
    "mean of empty": (lambda x: np.mean(x[:0]), 1.0), "var of empty": (lambda x: np.var(x[:0]), 1.0),
    "mean over an empty axis": (lambda x: x[:0].reshape(0, 1).mean(axis=0), 1.0),
}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", list(DOMAIN_ERRORS))
def test_nan_of_a_domain_error_has_numpys_sign_bit(name: str, dt: type) -> None:
    """libmvec, the inline float32 log and LLVM's folding of ``0/0`` give +NaN where NumPy gives
    the default NaN; vector body and scalar remainder (37 elements) and one element alike."""
    fn, value = DOMAIN_ERRORS[name]
    for n in (1, 37):
        x = np.full(n, value, dt)
        x[1::3] = 0.25  # valid operands in between (values within ulps: not this test's subject)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice"
            want = fn(x)
        nan = np.isnan(want)
        assert nan.any()
        for fuse in (True, False):
            got = np.asarray(fusejit.jit(fn, fuse=fuse)(x))
            np.testing.assert_array_equal(np.isnan(got), nan)
            np.testing.assert_array_equal(_bits(got[nan]), _bits(want[nan]), err_msg=f"fuse={fuse}")


@pytest.mark.parametrize("dt", FLOATS)
def test_maximum_and_minimum_of_signed_zeros_pick_numpys_zero(dt: type) -> None:
    """NumPy's float32/float64 loops are maxps/minps (equal operands give the second); its float16
    loop keeps the first. Arrays, a weak scalar on either side, and both orders."""
    neg, pos = np.full(21, -0.0, dt), np.full(21, 0.0, dt)
    fns = [lambda a, b: np.maximum(a, b), lambda a, b: np.minimum(a, b), lambda a, b: np.maximum(a, 0.0),
           lambda a, b: np.maximum(0.0, a), lambda a, b: np.minimum(-0.0, b), lambda a, b: np.minimum(b, -0.0)]
    for fn in fns:
        for a, b in ((neg, pos), (pos, neg)):
            for fuse in (True, False):
                np.testing.assert_array_equal(_bits(fusejit.jit(fn, fuse=fuse)(a, b)), _bits(fn(a, b)))
