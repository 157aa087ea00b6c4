"""Compiled kernels against the reference evaluator: layout as index arithmetic, any strides,
symbolic dims, 0-size and 0-d, reductions (accuracy, NaN, empty axes), row fusion, dot, gather."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fusejit.codegen.cpu import compile_cpu
from fusejit.codegen.cpu.streaming import LINE, STREAM_ISAS, STREAM_MIN_BYTES
from fusejit.codegen.vecmath import host_isa
from fusejit.ir import parse
from fusejit.passes.fusion import plan_fusion
from tests.cpu_graphs import CHAIN, LAYERNORM, MLP, SOFTMAX, SUMSQ
from tests.helpers import assert_same
from tests.isa import host_register_bytes


def check(text: str, *args: np.ndarray, fuse: bool = True, rtol: float | None = None) -> None:
    g = parse(text)
    with np.errstate(all="ignore"):
        expected = g.evaluate(*args)
    assert_same(compile_cpu(g, fuse=fuse)(*args), expected, rtol=rtol)


@pytest.fixture
def x(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((24, 40)).astype(np.float32)


VIEWS = {
    "contiguous": lambda a: a,
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "reversed": lambda a: a[::-1, ::-1],
    "strided": lambda a: np.repeat(a, 3, axis=1)[:, ::3],
    "broadcast": lambda a: np.broadcast_to(a[:1], a.shape),
}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("fuse", [True, False])
def test_row_kernels_on_any_strides(x: np.ndarray, view: str, fuse: bool) -> None:
    v = VIEWS[view](x)
    check(SOFTMAX, v, fuse=fuse)
    check(LAYERNORM, v, fuse=fuse, rtol=1e-5)


@pytest.mark.parametrize("rows", [0, 1, 3, 17])
@pytest.mark.parametrize("cols", [0, 1, 5, 1030, 2100])
def test_symbolic_dims_of_several_sizes_share_one_program(rows: int, cols: int) -> None:
    g = parse(SOFTMAX)
    exe = compile_cpu(g)
    a = np.random.default_rng(rows * 7 + cols).standard_normal((rows, cols)).astype(np.float32)
    if not cols:
        with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
            exe(a)
        return
    assert_same(exe(a), g.evaluate(a))


LAYOUT = """func @f(%x: f32[4,6], %y: f32[6]) -> (f32[3,4], f32[6,4], f32[2,12]) {
  %0 = transpose(%x) {perm=[1,0]} : f32[6,4]
  %1 = slice(%0) {starts=[5,0], stops=[-1,4], steps=[-2,1]} : f32[3,4]
  %2 = neg(%1) : f32[3,4]
  %r = reshape(%y) {shape=[6,1]} : f32[6,1]
  %b = broadcast(%r) {shape=[6,4]} : f32[6,4]
  %3 = mul(%0, %b) : f32[6,4]
  %4 = reshape(%0) {shape=[2,12]} : f32[2,12]
  %5 = exp(%4) : f32[2,12]
  return %2, %3, %5
}"""


@pytest.mark.parametrize("view", VIEWS)
def test_layout_ops_fold_into_index_arithmetic(x: np.ndarray, view: str) -> None:
    a = VIEWS[view](x[:4, :6])
    y = x[5, 10:16]
    check(LAYOUT, a, y)
    check(LAYOUT, a, y, fuse=False)


def test_zero_d_and_zero_size() -> None:
    text = """func @f(%x: f32[], %y: f32[N,3]) -> (f32[], f32[N,3], f32[3]) {
      %0 = exp(%x) : f32[]
      %b = broadcast(%x) {shape=[N,3]} : f32[N,3]
      %1 = add(%y, %b) : f32[N,3]
      %2 = reduce_sum(%1) {axes=[0]} : f32[3]
      return %0, %1, %2
    }"""
    for n in (0, 1, 4):
        check(text, np.array(0.5, np.float32), np.ones((n, 3), np.float32))


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min"])
@pytest.mark.parametrize("axes", [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]])
def test_reductions_over_any_axes(op: str, axes: list[int], rng: np.random.Generator) -> None:
    a = (rng.standard_normal((3, 5, 7)) * 0.3 + 1).astype(np.float64)
    out = ",".join(d for i, d in enumerate(["3", "5", "7"]) if i not in axes)
    check(f"""func @f(%x: f64[3,5,7]) -> (f64[{out}]) {{
      %0 = {op}(%x) {{axes={axes}}} : f64[{out}]
      return %0
    }}""", a[:, ::-1])


@pytest.mark.parametrize("dt", ["i32", "u8", "bool", "f16", "i64"])
@pytest.mark.parametrize("op", ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "argmax", "argmin"])
def test_reductions_on_every_dtype(dt: str, op: str, rng: np.random.Generator) -> None:
    npdt = {"i32": np.int32, "u8": np.uint8, "bool": np.bool_, "f16": np.float16, "i64": np.int64}[dt]
    a = rng.integers(0, 4, (6, 33)).astype(npdt)
    out_dt = "i64" if op.startswith("arg") else dt
    attr = "{axis=1}" if op.startswith("arg") else "{axes=[1]}"
    check(f"""func @f(%x: {dt}[6,33]) -> ({out_dt}[6]) {{
      %0 = {op}(%x) {attr} : {out_dt}[6]
      return %0
    }}""", a, rtol=4e-3)


def test_nan_propagates_through_max_min_and_arg_reductions(x: np.ndarray) -> None:
    a = x.copy()
    a[3, 5] = a[7, 9] = a[7, 2] = np.nan
    for op in ("reduce_max", "reduce_min"):
        check(f"""func @f(%x: f32[24,40]) -> (f32[24]) {{
          %0 = {op}(%x) {{axes=[1]}} : f32[24]
          return %0
        }}""", a)
    for op in ("argmax", "argmin"):
        check(f"""func @f(%x: f32[24,40]) -> (i64[24]) {{
          %0 = {op}(%x) {{axis=1}} : i64[24]
          return %0
        }}""", a)


def test_empty_axis_errors_match_numpy() -> None:
    for op, msg in (("reduce_max", "zero-size array to reduction operation maximum which has no identity"),
                    ("argmin", "attempt to get argmin of an empty sequence")):
        ty = "i64" if op.startswith("arg") else "f32"
        attr = "{axis=1}" if op.startswith("arg") else "{axes=[1]}"
        exe = compile_cpu(parse(f"""func @f(%x: f32[N,M]) -> ({ty}[N]) {{
          %0 = {op}(%x) {attr} : {ty}[N]
          return %0
        }}"""))
        for shape in ((3, 0), (0, 0)):
            with pytest.raises(ValueError, match=msg):
                exe(np.zeros(shape, np.float32))
        assert exe(np.zeros((0, 3), np.float32))[0].shape == (0,)


def test_sum_is_pairwise_accurate_like_numpy() -> None:
    a = np.full(3_000_001, 0.1, dtype=np.float32)
    got = compile_cpu(parse(SUMSQ.replace("%0 = mul(%x, %x)", "%0 = abs(%x)")))(a)[0]
    exact = 3_000_001 * float(np.float32(0.1))
    assert abs(float(got) - exact) / exact < 1e-6  # a serial float32 sum is off by ~1e-2 here
    assert abs(float(got) - float(np.sum(a))) / exact < 1e-6


def test_mlp_is_two_blas_calls_with_fused_epilogues(rng: np.random.Generator) -> None:
    g = parse(MLP)
    exe = compile_cpu(g)
    assert [k.kind for k in exe.kernels] == ["dot", "dot"]
    assert exe.llvm_ir.count("call void @\"fj_sgemm\"") == 2
    args = [rng.standard_normal(s).astype(np.float32) for s in [(5, 12), (12, 8), (8,), (8, 3), (3,)]]
    assert_same(exe(*args), g.evaluate(*args), rtol=1e-5)
    args[1] = np.asfortranarray(args[1])  # a transposed operand is a BLAS flag, not a copy
    assert_same(exe(*args), g.evaluate(*args), rtol=1e-5)
    args[0] = args[0][::-1]  # negative strides: the plain loop
    assert_same(exe(*args), g.evaluate(*args), rtol=1e-5)


@pytest.mark.parametrize("dt", ["f32", "f64", "i32", "f16"])
def test_batched_dot_with_transposed_operand(dt: str, rng: np.random.Generator) -> None:
    npdt = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "f16": np.float16}[dt]
    a = (rng.standard_normal((2, 4, 5)) * 3).astype(npdt)
    b = (rng.standard_normal((2, 6, 5)) * 3).astype(npdt)
    check(f"""func @f(%x: {dt}[2,4,5], %w: {dt}[2,6,5]) -> ({dt}[2,4,6]) {{
      %t = transpose(%w) {{perm=[0,2,1]}} : {dt}[2,5,6]
      %0 = dot(%x, %t) : {dt}[2,4,6]
      return %0
    }}""", a, b, rtol=1e-2 if dt == "f16" else 1e-5)


def test_dot_with_empty_inner_dim_is_zeros() -> None:
    check("""func @f(%x: f32[3,K], %w: f32[K,2]) -> (f32[3,2]) {
      %0 = dot(%x, %w) : f32[3,2]
      return %0
    }""", np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32))


TAKE = """func @f(%x: f32[N,D], %i: i64[K]) -> (f32[K,D]) {
  %0 = take(%x, %i) {axis=0} : f32[K,D]
  %1 = exp(%0) : f32[K,D]
  return %1
}"""


def test_take_wraps_negative_indices_and_raises_index_error(x: np.ndarray) -> None:
    check(TAKE, x, np.array([0, 5, -1, 3]))
    exe = compile_cpu(parse(TAKE))
    with pytest.raises(IndexError, match="out of bounds"):
        exe(x, np.array([0, 24]))
    with pytest.raises(IndexError, match="out of bounds"):
        exe(x, np.array([-25]))


def test_concat_and_update_slice(x: np.ndarray) -> None:
    check("""func @f(%x: f32[4,3], %y: f32[2,3]) -> (f32[6,3]) {
      %0 = concat(%x, %y) {axis=0} : f32[6,3]
      %1 = sqrt(%0) : f32[6,3]
      return %1
    }""", np.abs(x[:4, :3]), np.abs(x[10:12, :3]))
    check("""func @f(%x: f32[6,4], %y: f32[2,4]) -> (f32[6,4]) {
      %0 = update_slice(%x, %y) {starts=[1,0], stops=[5,4], steps=[2,1]} : f32[6,4]
      return %0
    }""", x[:6, :4], x[10:12, :4])


def test_multi_output_row_and_sibling_kernels(rng: np.random.Generator) -> None:
    check("""func @f(%x: f32[N]) -> (f32[N], f32[N], f32[]) {
      %0 = exp(%x) : f32[N]
      %1 = reduce_sum(%0) {axes=[0]} : f32[]
      %b = broadcast(%1) {shape=[N]} : f32[N]
      %2 = mul(%x, %b) : f32[N]
      %3 = reduce_max(%x) {axes=[0]} : f32[]
      return %0, %2, %3
    }""", rng.standard_normal(70_000).astype(np.float32), rtol=1e-5)
    check("""func @f(%x: f32[N,D], %y: f32[N,D]) -> (f32[N], f32[N], f32[N,D], f32[N,D]) {
      %0 = reduce_sum(%x) {axes=[1]} : f32[N]
      %1 = reduce_max(%x) {axes=[1]} : f32[N]
      %2 = add(%x, %y) : f32[N,D]
      %3 = mul(%x, %y) : f32[N,D]
      return %0, %1, %2, %3
    }""", *(rng.standard_normal((9, 2000)).astype(np.float32) for _ in range(2)), rtol=1e-5)


def test_column_max_over_an_empty_axis_raises_like_numpy():
    """Regression: the column-tile path (reduce over a leading axis) returned -inf for an empty axis."""
    import pytest

    from fusejit.codegen.cpu import compile_cpu
    from fusejit.ir import parse

    g = parse("""func @r(%x: f32[0,3]) -> (f32[3]) {
  %0 = reduce_max(%x) {axes=[0]} : f32[3]
  return %0
}""")
    for fuse in (True, False):
        with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
            compile_cpu(g, fuse=fuse)(np.zeros((0, 3), np.float32))


def _static(text: str, rows: int, cols: int) -> str:
    return re.sub(r"\bD\b", str(cols), re.sub(r"\bN\b", str(rows), text))


@pytest.mark.parametrize("static", [True, False])
def test_large_row_outputs_stream_without_changing_a_bit(static: bool) -> None:
    """A 16 MiB layer norm output is written with non-temporal stores and the next row is
    prefetched (x86): values are NumPy's, and bitwise those of a smaller cached run (rows are
    independent) and of one thread."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4096, 1024)) * 3 + 100).astype(np.float32)
    g = parse(_static(LAYERNORM, 4096, 1024) if static else LAYERNORM)
    assert len(plan_fusion(g).kernels) == 1
    exe = compile_cpu(g, threads=2)
    (out,) = exe(x)
    assert_same([out], g.evaluate(x), rtol=1e-5)
    if host_isa() in STREAM_ISAS:
        assert "movnt" in exe.asm and "prefetcht0" in exe.asm
    assert out.nbytes >= STREAM_MIN_BYTES
    np.testing.assert_array_equal(compile_cpu(g, threads=1)(x)[0], out)
    half = parse(_static(LAYERNORM, 2048, 1024)) if static else g
    np.testing.assert_array_equal(compile_cpu(half, threads=2)(x[:2048])[0], out[:2048])


def test_large_row_outputs_stream_in_float64_with_a_per_row_sqrt() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2048, 1024))
    g = parse(_static(LAYERNORM, 2048, 1024).replace("f32", "f64"))
    (out,) = compile_cpu(g)(x)
    assert out.nbytes >= STREAM_MIN_BYTES
    assert_same([out], g.evaluate(x))


ROW_EXP = """func @f(%x: f32[N,D]) -> (f32[N,D]) {
  %0 = reduce_max(%x) {axes=[1]} : f32[N]
  %1 = reshape(%0) {shape=[N,1]} : f32[N,1]
  %2 = broadcast(%1) {shape=[N,D]} : f32[N,D]
  %3 = sub(%x, %2) : f32[N,D]
  %4 = exp(%3) : f32[N,D]
  return %4
}"""


def test_large_row_output_with_exp_along_the_row_is_not_streamed_lane_by_lane() -> None:
    """exp varies along the row: the streaming store would evaluate it one lane at a time, so
    that row output keeps the plain vectorized loop (and its values)."""
    x = np.random.default_rng(7).standard_normal((4096, 1024)).astype(np.float32)
    g = parse(_static(ROW_EXP, 4096, 1024))
    exe = compile_cpu(g)
    assert "movnt" not in exe.asm
    assert_same(exe(x), g.evaluate(x))


STREAM_N = STREAM_MIN_BYTES // 4  # float32 elements of one output at the streaming threshold


def _chain_inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [(rng.standard_normal(n) * 2).astype(np.float32) for _ in range(3)]


@pytest.mark.parametrize("n", [STREAM_N - 5, STREAM_N + 37])
def test_large_flat_outputs_stream_without_changing_a_bit(n: int) -> None:
    """Just below and above the threshold (an odd size: whole lines stream, the partial last
    line takes the plain loop): NumPy's values, and bitwise those of 1 thread, of a small run
    that never streams, and of strided and broadcast inputs (the generic version, no streaming)."""
    x, y, z = _chain_inputs(n)
    g = parse(CHAIN)
    two = compile_cpu(g, threads=2)
    (out,) = two(x, y, z)
    assert_same([out], g.evaluate(x, y, z), rtol=1e-5)
    if host_isa() in STREAM_ISAS:
        assert "movnt" in two.asm
    np.testing.assert_array_equal(compile_cpu(g, threads=1)(x, y, z)[0], out)
    tail = slice(n - 3000, n)  # ends on the partial line
    np.testing.assert_array_equal(two(x[tail], y[tail], z[tail])[0], out[tail])
    xs = np.repeat(x, 2)[::2]
    yb = np.broadcast_to(y[:1], (n,))
    np.testing.assert_array_equal(two(xs, y, z)[0], out)
    np.testing.assert_array_equal(two(x, yb, z)[0], two(x, np.full(n, y[0]), z)[0])


def test_static_flat_kernels_have_streaming_code_only_when_large() -> None:
    assert "movnt" not in compile_cpu(parse(CHAIN.replace("[N]", "[1048576]"))).asm
    big = parse(CHAIN.replace("[N]", f"[{STREAM_N}]"))
    exe = compile_cpu(big)
    assert ("movnt" in exe.asm) == (host_isa() in STREAM_ISAS)
    if host_isa() in STREAM_ISAS:  # the line loop is not unrolled: one copy of its body to compile,
        # whose one 64-byte line store is as many non-temporal stores as registers it fills
        assert exe.asm.count("movnt") == LINE // host_register_bytes()
        assert "llvm.loop.unroll.disable" in exe.llvm_ir
    args = _chain_inputs(STREAM_N)
    (out,) = exe(*args)
    np.testing.assert_array_equal(compile_cpu(parse(CHAIN))(*[a[:1 << 20] for a in args])[0], out[:1 << 20])


FLAT2_F64 = """func @f(%x: f64[N,D], %y: f64[N,D]) -> (f64[N,D], f64[N,D]) {
  %0 = mul(%x, %y) : f64[N,D]
  %1 = sqrt(%0) : f64[N,D]
  %2 = div(%x, %y) : f64[N,D]
  %3 = sub(%2, %1) : f64[N,D]
  return %1, %3
}"""


def test_two_float64_flat_outputs_stream_together() -> None:
    """Two outputs of 8 MiB: 16 MiB in all streams (8 lanes a line); values bitwise those of
    one thread and of a run below the threshold."""
    rng = np.random.default_rng(9)
    x, y = (rng.uniform(0.5, 2.0, (1024, 1027)) for _ in range(2))
    g = parse(FLAT2_F64)
    exe = compile_cpu(g, threads=2)
    outs = exe(x, y)
    assert sum(o.nbytes for o in outs) >= STREAM_MIN_BYTES
    if host_isa() in STREAM_ISAS:
        assert "movntpd" in exe.asm
    assert_same(outs, g.evaluate(x, y))
    for a, b in zip(compile_cpu(g, threads=1)(x, y), outs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(exe(x[:100], y[:100]), outs):
        np.testing.assert_array_equal(a, b[:100])


def test_flat_kernel_with_a_libm_call_keeps_plain_stores() -> None:
    """A libmvec call (float64 exp) could round differently in the streaming loop's vector
    variant than in the plain loop's tail: such kernels never stream."""
    g = parse("""func @f(%x: f64[4194304]) -> (f64[4194304]) {
  %0 = exp(%x) : f64[4194304]
  return %0
}""")
    assert "movnt" not in compile_cpu(g).asm
