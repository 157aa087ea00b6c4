"""NumPy's array constructors inside a trace (fusejit/tracer/constructors.py): asarray & co. pass
traced arrays through, arrays created inside the function are traced buffers, NumPy's own Python
functions run on traced arrays, constant-only values are concrete."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.tracer.errors import UnsupportedFunctionError


def check(f, *args):
    got, want = fusejit.jit(f)(*args), f(*args)
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype, (got, want)
    np.testing.assert_allclose(got, want, rtol=1e-12)


X = np.arange(5.0) + 0.5
M = np.arange(12.0).reshape(3, 4) - 4


@pytest.mark.parametrize("f", [
    lambda x: np.asarray(x) * 2, lambda x: np.asarray(x, dtype=np.float32), lambda x: np.asanyarray(x) + 1,
    lambda x: np.ascontiguousarray(x.T), lambda x: np.array(x, ndmin=3), lambda x: np.array(x, dtype=np.int32),
    lambda x: np.array([x.sum(), x.max(), 1.0]), lambda x: np.array([[x[0], 2.0], [3.0, x[1]]]),
    lambda x: np.asarray([x, x * 2]), lambda x: np.array([x.astype(np.float32)[0], np.float32(1)]),
], ids=["asarray", "dtype", "asanyarray", "contiguous", "ndmin", "array-int", "list", "nested", "stack", "f32"])
def test_asarray_family_passes_traced_arrays_through(f) -> None:
    check(f, M if "T" in f.__code__.co_names else X)


def test_array_copies_so_writes_do_not_reach_the_argument() -> None:
    def f(x):
        y = np.array(x)
        y[0] = 100.0
        z = np.asarray(x, copy=True)
        z[1] = -1
        return x + y + z
    check(f, X)


def test_created_arrays_are_buffers_written_with_traced_values() -> None:
    def f(x):
        out = np.zeros((x.shape[0], 3))
        for k in range(3):
            out[:, k] = x * k
        acc = np.empty(2)
        acc[0], acc[1] = x.sum(), x.max()
        ident = np.eye(3) + np.identity(3) * x[0] + np.full((3, 3), 2.0) * np.ones(3)
        return out, acc, ident, np.linspace(0.0, 1.0, 5) * x + np.arange(5)
    got, want = fusejit.jit(f)(X), f(X)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w)


def test_values_made_of_constants_are_concrete() -> None:
    def f(x):
        n = int(np.arange(4)[3])
        scale = float(np.ones(2).sum())
        return x[:n] * scale, np.arange(4).tolist()[2] + x[0], bool(np.zeros(1)[0]) or x[1]
    got, want = fusejit.jit(f)(X), f(X)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)


def test_a_numpy_array_made_inside_indexed_with_a_traced_index_is_a_gather() -> None:
    check(lambda i: (np.arange(15.0).reshape(5, 3) ** 2)[i], np.array([4, 0, 2]))


@pytest.mark.parametrize("f", [
    lambda x: np.average(x, weights=np.arange(5.0)), lambda x: np.cov(np.stack([x, x ** 2])),
    lambda x: np.corrcoef(np.stack([x, x ** 2])), lambda x: np.sinc(x), lambda x: np.trapezoid(x),
    lambda x: np.atleast_2d(x), lambda x: np.atleast_3d(x), lambda x: np.atleast_1d(x[0]),
    lambda x: np.column_stack([x, x]), lambda x: np.dstack([x, x]), lambda x: np.c_[x, x], lambda x: np.r_[x, 1.0, x],
    lambda x: np.append(x, x), lambda x: np.ptp(x), lambda x: np.polyval([1.0, 2.0, 3.0], x),
    lambda x: np.isclose(x, x + 1e-9), lambda x: np.nan_to_num(x / 0.0), lambda x: np.gradient(x),
    lambda x: np.rot90(x.reshape(5, 1)),
], ids=["average", "cov", "corrcoef", "sinc", "trapezoid", "atleast_2d", "atleast_3d", "atleast_1d", "column_stack",
        "dstack", "c_", "r_", "append", "ptp", "polyval", "isclose", "nan_to_num", "gradient", "rot90"])
def test_numpys_python_functions_run_on_traced_arrays(f) -> None:
    with np.errstate(all="ignore"):
        check(f, X)


def test_ravel_and_reshape_index_orders() -> None:
    for order in "CF":
        check(lambda m, order=order: np.ravel(m, order=order), M)
        check(lambda m, order=order: m.reshape((2, 6), order=order), M)
    check(lambda x: x.ravel(order="K"), X)
    with pytest.raises(UnsupportedFunctionError, match="order='K' follows the memory layout"):
        fusejit.jit(lambda m: m.ravel(order="K"))(M)


def test_a_numpy_function_whose_implementation_stops_names_it() -> None:
    with pytest.raises(UnsupportedFunctionError, match=r"np\.convolve is not supported .* NumPy's own Python"):
        fusejit.jit(lambda x: np.convolve(x, x))(X)
    with pytest.raises(UnsupportedFunctionError, match=r"np\.partition is not supported"):
        fusejit.jit(lambda x: np.median(x))(X)


def test_numpy_outside_a_trace_is_untouched() -> None:
    fusejit.jit(lambda x: np.zeros(3) + x)(np.ones(3))
    assert type(np.zeros(3)) is np.ndarray and np.asarray.__module__ != "fusejit.tracer.constructors"
