"""The BLAS dot path's fallback: operands BLAS cannot take run the shared out-of-line triple loop."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_float_dot_on_strides_blas_cannot_take(dt: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 20)).astype(dt)
    b = rng.standard_normal((15, 18)).astype(dt)
    f = fusejit.jit(lambda x, y: x @ y + 1)
    for x, y in [(a[:, ::2], b[:10, ::2]), (a[::-1, 1:11], b[::-1, ::-1][:10]), (a[:, :10], b[:10, ::3])]:
        np.testing.assert_allclose(f(x, y), x @ y + 1, rtol=1e-5, atol=1e-5)


def test_one_fallback_loop_per_dtype_and_module() -> None:
    f = fusejit.jit(lambda x, w1, w2: (x @ w1) @ w2)
    x, w1, w2 = (np.ones(s, np.float32) for s in ((4, 8), (8, 16), (16, 2)))
    ir_text = f.lower(x, w1, w2).llvm_ir
    assert ir_text.count('define internal void @"fj.naive_gemm.float32"') == 1
    np.testing.assert_allclose(f(x[:, ::-1], w1, w2), (x[:, ::-1] @ w1) @ w2)


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_dot_with_a_captured_array_operand(dt: str) -> None:
    """A matrix captured by the traced function is a constant of the graph: BLAS (or the
    fallback loop) reads it from the module's own global, on either side of the product."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((12, 12)) * 4).astype(dt)
    x = (rng.standard_normal((5, 12)) * 4).astype(dt)
    for fn in (lambda v: v @ w + 1, lambda v: w @ v.T, lambda v: v @ np.eye(12, dtype=dt), lambda v: v[:, :3] @ w[2:5]):
        np.testing.assert_allclose(fusejit.jit(fn)(x), fn(x), rtol=1e-5)


RETURNED_WITH_EPILOGUE = {
    "z, relu(z)": lambda x, w: (x @ w, np.maximum(x @ w, 0)),
    "relu(z), z": lambda x, w: (np.maximum(x @ w, 0), x @ w),
    "z, 2z+1, z": lambda x, w: (x @ w, (x @ w) * 2 + 1, x @ w),
    "z, z>0": lambda x, w: (x @ w, x @ w > 0),
}


@pytest.mark.parametrize("dt", ["float32", "float64", "int64", "float16"])
@pytest.mark.parametrize("shapes", [((5, 3), (3, 4)), ((2, 5, 3), (3, 4)), ((1, 1), (1, 1)), ((0, 3), (3, 2))],
                         ids=["2d", "batched", "1x1", "empty"])
@pytest.mark.parametrize("name", list(RETURNED_WITH_EPILOGUE))
def test_dot_returned_beside_its_epilogue_is_stored(name: str, shapes: tuple, dt: str) -> None:
    """The dot + epilogue kernel of a matmul also returned itself (pre-activation and activation)
    writes the dot's own buffer: it used to write BLAS into the epilogue's output and never store
    the dot, so ``z`` came back uninitialized in fused mode only."""
    fn = RETURNED_WITH_EPILOGUE[name]
    rng = np.random.default_rng(2)
    x, w = ((rng.standard_normal(s) * 3).astype(dt) for s in shapes)
    want = fn(x, w)
    for fuse in (True, False):
        got = fusejit.jit(fn, fuse=fuse)(x, w)
        for g, e in zip(got, want):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=2e-3 if dt == "float16" else 1e-6)


def test_dot_of_a_transposed_reshape() -> None:
    """``B @ v.reshape(4, 1).T``: only the transpose joins the dot's kernel (BLAS reads a buffer;
    the reshape behind it used to join too and leave the operand without one). Reverse mode
    builds such operands (the VJP of a matrix-vector product)."""
    f = fusejit.jit(lambda v, b: b @ v.reshape(4, 1).T)
    v, b = np.arange(4.0), np.full((2, 1), 2.0)
    np.testing.assert_array_equal(f(v, b), b @ v.reshape(4, 1).T)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_one_row_products_call_gemv(dt: str) -> None:
    """A left operand of one row goes to gemv (gemm would pack all of B): B as stored or
    transposed, a strided row, a broadcast row (stride 0: gemm's path), K = 1, batched dots,
    and NaN from 0 * inf as NumPy gives it."""
    rng = np.random.default_rng(2)
    f = fusejit.jit(lambda x, y: x @ y)
    ir_text = f.lower(np.ones((1, 3), dt), np.ones((3, 4), dt)).llvm_ir
    assert f'call void @"fj_{"s" if dt == "float32" else "d"}gemv"' in ir_text
    w = rng.standard_normal((130, 67)).astype(dt)
    wide = rng.standard_normal((6, 130)).astype(dt)
    cases = [(rng.standard_normal((1, 130)).astype(dt), w), (rng.standard_normal((1, 67)).astype(dt), w.T),
             (wide[2:3, :], w), (wide[:1, ::2], w[:65]), (wide.T[:1], w[:6]),
             (np.broadcast_to(wide[:1, :1], (1, 130)), w), (wide[:1, :1], w[:1]),
             (rng.standard_normal((3, 1, 130)).astype(dt), w)]
    for x, y in cases:
        np.testing.assert_allclose(f(x, y), x @ y, rtol=1e-5, atol=1e-5, err_msg=f"{x.shape} {x.strides}")
    x = np.ones((1, 4), dt)
    x[0, 1] = 0
    y = np.ones((4, 3), dt)
    y[1, 2] = np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(f(x, y), x @ y)  # [4, 4, nan]


OPERAND_LAYOUTS = {  # every layout the tracer accepts on either side reaches BLAS or is materialized
    "reshape.T @ w": lambda a, w: a.reshape(4, 6).T @ w,
    "w.T @ reshape.T": lambda a, w: w.T @ a.reshape(6, 4).T,
    "reshape.T @ reshape.T": lambda a, w: a.reshape(4, 6).T @ a.reshape(6, 4).T,
    "strided.T @ w": lambda a, w: a.reshape(6, 4)[::2].T @ w[:3],
    "flipped.T @ w": lambda a, w: a.reshape(4, 6)[::-1].T @ w,
    "broadcast.T @ w": lambda a, w: np.broadcast_to(a[:6], (4, 6)).T @ w,
    "batched transpose @ w": lambda a, w: a.reshape(2, 4, 3).transpose(0, 2, 1) @ w,
    "batch-moving transpose @ w": lambda a, w: a.reshape(4, 2, 3).transpose(1, 2, 0) @ w,
    "(relu(reshape)).T @ w": lambda a, w: np.maximum(a.reshape(4, 6), 0).T @ w,
    "concat.T @ w": lambda a, w: np.concatenate([a[:12].reshape(2, 6), a[12:].reshape(2, 6)]).T @ w,
}


@pytest.mark.parametrize("dt", ["float32", "float64", "int64"])
@pytest.mark.parametrize("name", list(OPERAND_LAYOUTS))
def test_dot_operands_of_every_layout(name: str, dt: str) -> None:
    """``a.reshape(4, 6).T @ w`` raised KeyError in the BLAS emitter (a reshape's transpose was
    taken for a buffer); each layout, fused and not, as NumPy."""
    fn = OPERAND_LAYOUTS[name]
    rng = np.random.default_rng(3)
    a, w = (rng.standard_normal(24) * 3).astype(dt), (rng.standard_normal((4, 3)) * 3).astype(dt)
    for fuse in (True, False):
        np.testing.assert_allclose(fusejit.jit(fn, fuse=fuse)(a, w), fn(a, w), rtol=1e-5)


@pytest.mark.parametrize("dt", ["float64", "int8"])
def test_dot_of_a_splat_operand_reads_a_materialized_buffer(dt: str) -> None:
    """A broadcast scalar constant is computed where it is read, but BLAS reads memory: ``x - x``
    folded to zeros (ints), ``zeros @ x`` or ``x @ full(2)`` raised KeyError in the BLAS emitter
    (found by the differential fuzzer)."""
    x = np.arange(9).reshape(3, 3).astype(dt)
    for fn in (lambda v: ((v - v) @ (v - v).T, v - v), lambda v: np.zeros((3, 3), dt) @ v,
               lambda v: v @ np.full((3, 2), 2, dt), lambda v: np.cumsum(np.ones((3, 3), dt), 0) + v):
        for fuse in (True, False):
            got, want = fusejit.jit(fn, fuse=fuse)(x), fn(x)
            for g, w in zip(got if isinstance(want, tuple) else [got], want if isinstance(want, tuple) else [want]):
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_few_rows_times_a_large_matrix_stream_it_once(dt: str) -> None:
    """2 to SMALL_M rows of A times a B of at least SMALL_M_MIN_B elements take the small-M kernel:
    strided and transposed A, a B that is a column slice of a wider matrix (row stride > n), n not a
    multiple of the 512-column block, and NaN from 0 * inf kept; gemm again past SMALL_M rows."""
    from fusejit.codegen.cpu.blas import SMALL_M, SMALL_M_MIN_B

    rng = np.random.default_rng(4)
    f = fusejit.jit(lambda x, y: x @ y)
    k, n = 1030, 1100
    assert k * n >= SMALL_M_MIN_B
    wide = rng.standard_normal((k, n + 37)).astype(dt)
    w = wide[:, 5:5 + n]
    assert "fj.small_m_gemm" in f.lower(np.ones((2, k), dt), w).llvm_ir
    a = rng.standard_normal((2 * SMALL_M + 1, 2 * k)).astype(dt)
    for x in (a[:2, :k], a[:SMALL_M, ::2], a[1:4, k:], np.asfortranarray(a[:3, :k]), a[:SMALL_M + 1, :k]):
        np.testing.assert_allclose(f(x, w), x @ w, rtol=1e-5, atol=1e-4, err_msg=f"{x.shape} {x.strides}")
    x = np.ones((2, k), dt)
    x[:, 7] = 0
    y = np.ones((k, n), dt)
    y[7, 3] = np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(f(x, y), x @ y)  # column 3 NaN, as NumPy
