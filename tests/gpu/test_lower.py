"""Differential tests: generated CUDA kernels, run in numba-cuda's simulator, against the NumPy
reference evaluator (values, dtypes, shapes, NaN), fused and unfused."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit.codegen.cuda import compile_cuda
from fusejit.codegen.cuda.selfcheck import CASES, Case, graph_of
from fusejit.ir import parse

# the simulator runs kernels as Python on NumPy scalars, which warn where a GPU silently gives inf/NaN
pytestmark = [pytest.mark.usefixtures("sim"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]


def check(exe, graph, args, rtol=1e-5):
    got, want = exe(*args), graph.evaluate(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True)


SIM_CASES = [c for c in CASES if c.simulate]


@pytest.mark.parametrize("case", SIM_CASES, ids=[c.name for c in SIM_CASES])
def test_case_fused(case: Case) -> None:
    args = case.args(np.random.default_rng(7))
    graph = graph_of(case, args)
    check(compile_cuda(graph), graph, args, case.rtol)


UNFUSED = ["elementwise_chain", "softmax", "layer_norm", "matmul_bias_relu", "mean_all"]


@pytest.mark.parametrize("name", UNFUSED)
def test_case_unfused(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    args = case.args(np.random.default_rng(8))
    graph = graph_of(case, args)
    fused, unfused = compile_cuda(graph), compile_cuda(graph, fuse=False)
    check(unfused, graph, args, case.rtol)
    assert unfused.num_kernels > fused.num_kernels


def test_fused_kernel_kinds() -> None:
    kinds = {}
    for case in SIM_CASES:
        args = case.args(np.random.default_rng(0))
        kinds[case.name] = [ks.kind for ks in compile_cuda(graph_of(case, args)).kernels]
    assert kinds["softmax"] == ["row"] and kinds["layer_norm"] == ["row"]
    assert kinds["matmul_bias_relu"] == ["gemm"] and kinds["elementwise_chain"] == ["loop"]
    assert kinds["full_sum_of_squares"] == ["tree"] and kinds["column_max"] == ["column"]
    assert kinds["softmax_10_classes"] == ["column"]  # short rows: a thread per row


SYMBOLIC = """
func @f(%x: f32[N,M], %b: f32[M]) -> (f32[N], f32[N,M]) {
  %0 = broadcast(%b) {shape=[N,M]} : f32[N,M]
  %1 = add(%x, %0) : f32[N,M]
  %2 = reduce_max(%1) {axes=[1]} : f32[N]
  %3 = reshape(%2) {shape=[N,1]} : f32[N,1]
  %4 = broadcast(%3) {shape=[N,M]} : f32[N,M]
  %5 = sub(%1, %4) : f32[N,M]
  return %2, %5
}
"""


@pytest.mark.parametrize("n,m", [(1, 1), (3, 33), (2, 100), (0, 4), (4, 0)])
def test_symbolic_dims_one_executable(n: int, m: int) -> None:
    graph = parse(SYMBOLIC)
    exe = compile_cuda(graph)
    rng = np.random.default_rng(n * 100 + m)
    x, b = rng.standard_normal((n, m)).astype(np.float32), rng.standard_normal(m).astype(np.float32)
    if m == 0:  # max over an empty axis has no identity: NumPy raises, so do not compare
        return
    check(exe, graph, (x, b))


def test_nan_and_inf_propagate_through_reductions() -> None:
    graph = parse("""
func @f(%x: f32[4,6]) -> (f32[4], f32[4], f32[]) {
  %0 = reduce_max(%x) {axes=[1]} : f32[4]
  %1 = reduce_min(%x) {axes=[1]} : f32[4]
  %2 = reduce_sum(%x) {axes=[0, 1]} : f32[]
  return %0, %1, %2
}
""")
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    x[1, 3] = np.nan
    x[2, 0] = np.inf
    x[3, 5] = -np.inf
    check(compile_cuda(graph), graph, (x,))


def test_integer_and_bool_reductions_wrap_like_numpy() -> None:
    graph = parse("""
func @f(%x: i8[3,50], %m: bool[3,50]) -> (i8[3], bool[3], bool[3], i8[]) {
  %0 = reduce_sum(%x) {axes=[1]} : i8[3]
  %1 = reduce_max(%m) {axes=[1]} : bool[3]
  %2 = reduce_min(%m) {axes=[1]} : bool[3]
  %3 = reduce_prod(%x) {axes=[0, 1]} : i8[]
  return %0, %1, %2, %3
}
""")
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 127, (3, 50)).astype(np.int8)
    m = np.zeros((3, 50), bool)
    m[0, 7] = True
    m[2] = True
    check(compile_cuda(graph), graph, (x, m))


def test_layout_ops_are_index_math() -> None:
    graph = parse("""
func @f(%x: f32[4,6], %y: f32[3,6], %u: f32[2,3]) -> (f32[7,6], f32[8,3], f32[4,6]) {
  %0 = concat(%x, %y) {axis=0} : f32[7,6]
  %1 = reshape(%x) {shape=[8,3]} : f32[8,3]
  %2 = update_slice(%x, %u) {starts=[3, 5], stops=[-1, 0], steps=[-2, -2]} : f32[4,6]
  return %0, %1, %2
}
""")
    rng = np.random.default_rng(4)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((4, 6), (3, 6), (2, 3))]
    check(compile_cuda(graph), graph, args)


def test_integer_division_by_zero_gives_zero_like_numpy() -> None:
    graph = parse("""
func @f(%a: i32[6], %b: i32[6]) -> (i32[6], i32[6]) {
  %0 = floordiv(%a, %b) : i32[6]
  %1 = mod(%a, %b) : i32[6]
  return %0, %1
}
""")
    a = np.array([7, -7, 7, -7, 5, 0], np.int32)
    b = np.array([2, 2, -2, -2, 0, 3], np.int32)
    check(compile_cuda(graph), graph, (a, b))


def test_float_remainder_takes_sign_of_divisor() -> None:
    graph = parse("func @f(%a: f64[5], %b: f64[5]) -> (f64[5]) {\n  %0 = mod(%a, %b) : f64[5]\n  return %0\n}")
    a = np.array([5.5, -5.5, 5.5, 0.0, 1.0])
    b = np.array([2.0, 2.0, -2.0, -3.0, 0.0])
    check(compile_cuda(graph), graph, (a, b))


def test_gather_out_of_bounds_raises_index_error() -> None:
    graph = parse("func @f(%x: f32[4,3], %i: i64[2]) -> (f32[2,3]) {\n"
                  "  %0 = take(%x, %i) {axis=0} : f32[2,3]\n  return %0\n}")
    exe = compile_cuda(graph)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    check(exe, graph, (x, np.array([-4, 3])))
    with pytest.raises(IndexError, match="gather .* out of bounds"):
        exe(x, np.array([0, 4]))


def test_device_arrays_in_device_arrays_out() -> None:
    from numba import cuda

    case = next(c for c in CASES if c.name == "broadcast_bias_relu")
    args = case.args(np.random.default_rng(5))
    graph = graph_of(case, args)
    exe = compile_cuda(graph)
    out = exe(*[cuda.to_device(a) for a in args])
    assert not isinstance(out[0], np.ndarray) and hasattr(out[0], "copy_to_host")
    np.testing.assert_allclose(out[0].copy_to_host(), graph.evaluate(*args)[0], rtol=1e-6)


def test_strided_device_input_uses_indexed_kernel() -> None:
    from numba import cuda

    graph = parse("func @f(%x: f32[5,4]) -> (f32[5,4]) {\n  %0 = exp(%x) : f32[5,4]\n  return %0\n}")
    exe = compile_cuda(graph)
    assert exe.kernels[0].flat
    base = np.random.default_rng(6).standard_normal((5, 8)).astype(np.float32)
    strided = cuda.to_device(base)[:, ::2]
    assert not strided.is_c_contiguous()
    np.testing.assert_allclose(exe(strided)[0].copy_to_host(), np.exp(base[:, ::2]), rtol=1e-6)


def test_device_array_of_wrong_dtype_is_a_clear_error() -> None:
    from numba import cuda

    graph = parse("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n  return %0\n}")
    with pytest.raises(TypeError, match="argument 'x': expected a device array of dtype float32, got float64"):
        compile_cuda(graph)(cuda.to_device(np.zeros(3)))


def test_intermediates_are_pooled_across_calls() -> None:
    graph = parse("func @f(%x: f32[37]) -> (f32[37]) {\n  %0 = exp(%x) : f32[37]\n  %1 = sin(%0) : f32[37]\n"
                  "  %2 = mul(%1, %x) : f32[37]\n  %3 = sqrt(%2) : f32[37]\n  return %3\n}")
    args = (np.random.default_rng(9).random(37).astype(np.float32),)
    exe = compile_cuda(graph, fuse=False)
    check(exe, graph, args)
    pooled = sum(len(v) for v in exe._pool.values())
    assert pooled > 0
    check(exe, graph, args)
    assert sum(len(v) for v in exe._pool.values()) == pooled  # reused, not grown


def test_scalar_inputs_and_outputs() -> None:
    graph = parse("func @f(%x: f32[], %y: f32[3]) -> (f32[], f32[3]) {\n"
                  "  %0 = mul(%x, %x) : f32[]\n  %1 = broadcast(%x) {shape=[3]} : f32[3]\n"
                  "  %2 = add(%1, %y) : f32[3]\n  return %0, %2\n}")
    check(compile_cuda(graph), graph, (np.float32(3.0), np.arange(3, dtype=np.float32)))


def test_jit_routes_gpu_device_to_cuda_backend() -> None:
    import fusejit

    def f(x):
        return np.tanh(x) * 2 + 1

    x = np.linspace(-2, 2, 50, dtype=np.float32)
    with fusejit.device("gpu:0"):
        np.testing.assert_allclose(fusejit.jit(f)(x), f(x), rtol=1e-6)
    np.testing.assert_allclose(fusejit.jit(f, device="gpu")(x), f(x), rtol=1e-6)


def test_describe_and_source() -> None:
    case = next(c for c in CASES if c.name == "full_sum_of_squares")
    args = case.args(np.random.default_rng(0))
    exe = compile_cuda(graph_of(case, args))
    text = exe.describe()
    assert "1 kernel(s), 2 launch(es) per call" in text and "k0_tree: tree, k0_tree_s1 + k0_tree_s2 -> f32[]" in text
    assert "def k0_tree_s1(" in exe.source and "cuda.shfl_down_sync" in exe.source


def test_foreign_device_memory_in_the_simulator_is_a_clear_error() -> None:
    class Foreign:  # what CuPy and PyTorch tensors look like to fusejit
        shape, dtype = (3,), np.dtype(np.float32)
        __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False), "version": 3}

    graph = parse("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n  return %0\n}")
    with pytest.raises(TypeError, match="argument 'x': Foreign lives in GPU memory"):
        compile_cuda(graph)(Foreign())
