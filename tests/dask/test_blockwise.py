"""Jitted functions called on Dask arrays: blockwise graphs and tree reductions, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import fusejit  # noqa: E402
from fusejit.dask import DaskPlanError, map_blocks, reduction  # noqa: E402
from tests.dask import workloads as w  # noqa: E402

rng = np.random.default_rng(0)


def bs_inputs(n: int) -> tuple[np.ndarray, ...]:
    return rng.uniform(10, 100, n), rng.uniform(10, 100, n), rng.uniform(0.1, 2, n)


def test_black_scholes_is_blockwise_and_bitwise_equal_to_one_process() -> None:
    S, K, T = bs_inputs(10_001)
    call, put = w.black_scholes(da.from_array(S, chunks=3000), K, T, 0.05, 0.2)
    assert call.chunks == ((3000, 3000, 3000, 1001),) and call.dtype == np.float64  # known without computing
    want = w.black_scholes(S, K, T, 0.05, 0.2)
    got = dask.compute(call, put, scheduler="threads")
    for g, x in zip(got, want):
        np.testing.assert_array_equal(g, x)
    sums = dask.compute(call.sum(), put[::2].mean(), scheduler="threads")  # Dask's own ops on top (per layer)
    np.testing.assert_allclose(sums, [want[0].sum(), want[1][::2].mean()])


def test_numpy_scalar_arguments_are_arrays_as_in_jit() -> None:
    S, K, _ = bs_inputs(1_001)
    T = np.float64(1.5)  # a NumPy scalar: an array argument of the program, not a static value
    call, put = w.black_scholes(da.from_array(S, chunks=300), K, T, 0.05, 0.2)
    want = w.black_scholes(S, K, T, 0.05, 0.2)
    for g, x in zip(dask.compute(call, put, scheduler="threads"), want):
        np.testing.assert_array_equal(g, x)


@pytest.mark.parametrize("chunks", [(300, 64), (1000, 64), (7, 64)])
def test_row_programs_are_blockwise_when_rows_are_whole(chunks: tuple[int, int]) -> None:
    x = rng.standard_normal((1000, 64)).astype(np.float32)
    g, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    ulp4 = 4 * np.finfo(np.float32).eps
    np.testing.assert_allclose(w.softmax(da.from_array(x, chunks=chunks)).compute(), w.softmax(x), rtol=ulp4)
    np.testing.assert_array_equal(w.layer_norm(da.from_array(x, chunks=chunks), g, b).compute(), w.layer_norm(x, g, b))


def test_a_row_program_over_a_chunked_row_axis_is_refused_with_a_rechunk_hint() -> None:
    x = da.from_array(rng.standard_normal((100, 64)), chunks=(50, 16))
    with pytest.raises(DaskPlanError, match=r"rechunk\(\{axis: -1\}\)"):
        w.softmax(x)
    np.testing.assert_allclose(w.softmax(x.rechunk({1: -1})).compute(), w.softmax(x.compute()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_full_reductions_run_as_a_tree(dtype: type) -> None:
    x = (rng.standard_normal(100_003) * 10).astype(dtype)
    got = w.sum_of_squares(da.from_array(x, chunks=10_000))
    assert got.shape == () and got.dtype == w.sum_of_squares(x).dtype
    np.testing.assert_allclose(got.compute(), (x * x).sum(), rtol=1e-5)
    m, mx = w.mean_and_max(da.from_array(x, chunks=7_000))
    np.testing.assert_allclose(m.compute(), (x * x).mean(), rtol=1e-5)
    assert mx.compute() == np.abs(x).max()


def test_two_dimensional_chunks_and_broadcast_arguments() -> None:
    x = rng.standard_normal((60, 40))
    row = rng.standard_normal(40)
    f = fusejit.jit(lambda a, b: np.tanh(a) * b + 1.0)
    got = f(da.from_array(x, chunks=(25, 15)), row)
    assert got.chunks == ((25, 25, 10), (15, 15, 10))
    # tanh is within 4 ulp of NumPy, not bitwise: a point may fall in a vector body or a tail
    np.testing.assert_allclose(got.compute(), f(x, row), rtol=4 * np.finfo(float).eps, atol=1e-15)
    col = da.from_array(rng.standard_normal((60, 1)), chunks=(20, 1))
    np.testing.assert_allclose(f(da.from_array(x, chunks=(25, 15)), col).compute(), f(x, col.compute()),
                               rtol=4 * np.finfo(float).eps, atol=1e-15)


def test_transposed_output_keeps_its_chunks() -> None:
    x = rng.standard_normal((30, 20))
    f = fusejit.jit(lambda a: np.exp(a).T)
    got = f(da.from_array(x, chunks=(10, 20)))
    assert got.chunks == ((20,), (10, 10, 10))
    np.testing.assert_allclose(got.compute(), f(x), rtol=4 * np.finfo(float).eps, atol=1e-15)


def test_programs_that_mix_positions_are_refused() -> None:
    x = da.from_array(rng.standard_normal(100), chunks=30)
    with pytest.raises(DaskPlanError):
        fusejit.jit(lambda a: np.cumsum(a))(x)
    with pytest.raises(fusejit.TracingError, match="dynamic dimension"):  # chunk sizes are symbolic
        fusejit.jit(lambda a: a[1:] - a[:-1])(x)
    with pytest.raises(DaskPlanError):
        fusejit.jit(lambda a: a - a.mean())(x)  # the mean is whole-array, its use is per element
    with pytest.raises(DaskPlanError, match="nests Dask arrays"):
        fusejit.jit(lambda t: t[0] + t[1])((x, x))


def test_explicit_forms() -> None:
    x = rng.standard_normal(1000)
    dx = da.from_array(x, chunks=300)
    np.testing.assert_array_equal(map_blocks(lambda a: a * 2 + 1, dx).compute(), x * 2 + 1)
    np.testing.assert_allclose(reduction(lambda a: np.abs(a).sum(), dx).compute(), np.abs(x).sum())
    with pytest.raises(DaskPlanError, match="map_blocks"):
        map_blocks(lambda a: a.sum(), dx)
    with pytest.raises(DaskPlanError, match="no full reduction"):
        reduction(lambda a: a + 1, dx)
