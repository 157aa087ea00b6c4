"""Corners that used to raise internal errors (AssertionError, KeyError, IRTypeError, IndexError)
instead of NumPy's answer or NumPy's error: empty concatenation, uint64 against int64 and
out-of-range Python ints (NumPy 2 compares exactly), byte-swapped inputs, axes of 0-d arrays."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import fusejit

COMPARE = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
U = np.array([0, 2**64 - 1, 5, 2**63, 2**63 - 1], np.uint64)
S = np.array([-2**63, 2**63 - 1, 0, -1, 5], np.int64)
BIG = [2**64, 2**64 - 1, 2**63, 2**63 - 1, -1, 0, -2**63, -2**63 - 1, 2**70, -2**70]


def same(fn, *args) -> None:
    want = fn(*args)
    for fuse in (True, False):
        got = fusejit.jit(fn, fuse=fuse)(*args)
        assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
        np.testing.assert_array_equal(got, want)


def test_uint64_against_int64_compares_exactly() -> None:
    same(lambda u, s: tuple(op(u, s) for op in COMPARE), U, S)
    same(lambda u, s: tuple(op(s, u) for op in COMPARE), U, S)
    same(lambda u, s: tuple(op(s[:, None], u) for op in COMPARE), U, S)  # broadcast
    same(lambda u, s: tuple(op(u, s.astype(np.int8)) for op in COMPARE), U, S)


@pytest.mark.parametrize("value", BIG)
def test_integers_against_out_of_range_python_ints_compare_exactly(value: int) -> None:
    """uint64 < 2**64 was computed in float64 (2**64 - 1 rounds to 2**64: False); int64 < 2**63
    raised OverflowError."""
    same(lambda u, s: tuple(op(u, value) for op in COMPARE) + tuple(op(value, s) for op in COMPARE)
         + tuple(op(s.astype(np.int8), value) for op in COMPARE), U, S)


def test_empty_concatenation() -> None:
    same(lambda v: np.concatenate([v, v]), np.zeros(0))
    same(lambda v: np.concatenate([v, v], axis=1), np.zeros((0, 3)))
    same(lambda v, w: np.concatenate([v, w]), np.zeros(0, np.float32), np.ones(3, np.float32))


@pytest.mark.parametrize("dt", [">f4", ">f8", ">i8", ">u2", ">i4"])
def test_byte_swapped_inputs_and_constants(dt: str) -> None:
    x = np.arange(6, dtype=dt).reshape(2, 3)
    same(lambda a: a * 2 + 1, x)
    same(lambda a, b: a + b, x, x.astype(np.dtype(dt).newbyteorder("=")))
    same(lambda a: a.sum(axis=0), x)
    same(lambda a: a + x, x.astype(np.dtype(dt).newbyteorder("=")))  # captured
    f = fusejit.jit(lambda a: a - 1)
    f(x), f(x.astype(np.dtype(dt).newbyteorder("=")))
    assert f.trace_count == 1  # the same values: one signature


Z = np.array(3.0)


@pytest.mark.parametrize("fn", [
    lambda z: np.sum(z, axis=0), lambda z: np.sum(z, axis=-1, keepdims=True), lambda z: z.prod(0),
    lambda z: np.max(z, axis=0), lambda z: np.min(z, axis=-1), lambda z: np.any(z, axis=0),
    lambda z: np.all(z, axis=0), lambda z: np.argmax(z, axis=0), lambda z: np.argmin(z, axis=-1),
    lambda z: np.argmax(z), lambda z: np.argmax(z, axis=0, keepdims=True), lambda z: np.cumsum(z, axis=0),
    lambda z: np.cumprod(z, axis=-1), lambda z: np.take(z, 0, axis=0), lambda z: np.sum(z, axis=()),
])
def test_axis_zero_of_a_0d_array_where_numpy_allows_it(fn) -> None:
    same(fn, Z)
    same(fn, np.array(7, np.int8))


@pytest.mark.parametrize("fn, message", [
    (lambda z: np.sum(z, axis=1), "axis 1 is out of bounds for array of dimension 0"),
    (lambda z: np.sum(z, axis=(0,)), "axis 0 is out of bounds for array of dimension 0"),
    (lambda z: np.mean(z, axis=0), "axis 0 is out of bounds for array of dimension 0"),
    (lambda z: np.var(z, axis=0), "axis 0 is out of bounds for array of dimension 0"),
    (lambda z: np.argmax(z, axis=1), "axis 1 is out of bounds for array of dimension 1"),
    (lambda z: np.cumsum(z, axis=1), "axis 1 is out of bounds for array of dimension 1"),
    (lambda z: np.flip(z, 0), "axis 0 is out of bounds for array of dimension 0"),
    (lambda z: np.sum(z[None], axis=1), "axis 1 is out of bounds for array of dimension 1"),
])
def test_axes_numpy_refuses_raise_numpys_axis_error(fn, message: str) -> None:
    with pytest.raises(np.exceptions.AxisError, match=message):
        fn(Z)
    with pytest.raises(fusejit.AxisError, match=message) as info:
        fusejit.jit(fn)(Z)
    assert isinstance(info.value, (np.exceptions.AxisError, ValueError, IndexError))


def test_boolean_matrix_products_are_or_of_ands() -> None:
    """NumPy's bool matmul (was refused): computed as a count of true pairs, compared with 0."""
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 300)) < 0.01, rng.random((300, 2)) < 0.5
    for fn in (lambda x, y: x @ y, lambda x, y: np.dot(x, y), lambda x, y: x[0] @ y,
               lambda x, y: np.tensordot(x, y, 1), lambda x, y: x @ y.astype(np.int8)):
        same(fn, a, b)


def test_clip_of_integers_with_python_int_bounds_past_the_dtype() -> None:
    """NumPy's clip drops a Python int bound at or past the dtype's own (uint8 clip(-1, 1)); it
    raised OverflowError here (found by the differential fuzzer). Bounds inside stay errors."""
    a = np.array([255, 3, 0], np.uint8)
    for fn in (lambda x: np.clip(x, -1, 1), lambda x: np.clip(x, -1, 300), lambda x: x.clip(2, 300),
               lambda x: np.clip(x.astype(np.int8), -200, 5)):
        same(fn, a)
    with pytest.raises(OverflowError, match="Python integer -1 out of bounds for uint8"):
        fusejit.jit(lambda x: np.clip(x, 5, -1))(a)


def test_assigning_a_value_with_extra_leading_unit_dims() -> None:
    """``y[:] = z`` with z of shape (1, 3) into (3,): NumPy drops the leading 1s; fusejit raised
    IRTypeError (found by the differential fuzzer). More dims of other sizes stay NumPy's error."""
    def update(x, z):
        y, w = x.copy(), x.copy()
        y[:] = z
        w[1:] = z[..., 1:]
        return y, w

    x, z = np.arange(3.0), np.ones((1, 1, 3))
    for fuse in (True, False):
        for g, e in zip(fusejit.jit(update, fuse=fuse)(x, z), update(x, z)):
            np.testing.assert_array_equal(g, e)
    with pytest.raises(ValueError, match=r"could not broadcast input array from shape \(2, 3\) into shape \(3,\)"):
        fusejit.jit(update)(x, np.ones((2, 3)))


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_clip_picks_numpys_zero_on_ties(dt: type) -> None:
    """Two-sided clip with scalar bounds keeps x on a tie (-0.0 clipped to [0, 1] stays -0.0);
    one-sided or with array bounds it follows maximum/minimum (found by the fuzzer)."""
    x = np.array([-0.0, 0.0, -1, 2, np.nan], dtype=dt)
    for fn in (lambda a: np.clip(a, 0, 1), lambda a: np.clip(a, -1, -0.0), lambda a: np.clip(a, np.zeros(5, dt), 1),
               lambda a: a.clip(min=0), lambda a: a.clip(max=-0.0), lambda a: np.clip(a, dt(0), dt(1))):
        for fuse in (True, False):
            got, want = fusejit.jit(fn, fuse=fuse)(x), fn(x)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
            np.testing.assert_array_equal(got, want)
