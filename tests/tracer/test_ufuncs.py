"""Every supported ufunc against NumPy, over dtypes, with NEP 50 scalar promotion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special

from fusejit import jit
from tests.helpers import assert_same

FLOAT_UNARY = [np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sqrt, np.cbrt, np.sin, np.cos,
               np.tan, np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
               np.arctanh, scipy.special.erf, scipy.special.expit, np.deg2rad, np.rad2deg]
ANY_UNARY = [np.negative, np.positive, np.absolute, np.fabs, np.sign, np.floor, np.ceil, np.trunc, np.rint,
             np.square, np.reciprocal, np.isnan, np.isinf, np.isfinite, np.signbit, np.logical_not]
BINARY = [np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.remainder, np.fmod, np.power,
          np.maximum, np.minimum, np.fmax, np.fmin, np.arctan2, np.hypot, np.copysign, np.equal, np.not_equal, np.less,
          np.less_equal, np.greater, np.greater_equal, np.logical_and, np.logical_or, np.logical_xor,
          np.float_power]
INT_BINARY = [np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.left_shift, np.right_shift]
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.bool_]

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-30, -1e30, np.inf, -np.inf, np.nan, 88.0, -100.0,
                    2.0, 0.999])


def values(dtype: type) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        with np.errstate(all="ignore"):
            return SPECIAL.astype(dt)
    if dt.kind == "b":
        return np.array([True, False] * 8)
    base = np.array([0, 1, 2, 3, 5, 7, 100, 127, 9, 4, 6, 8, 10, 11, 12, 13])
    if dt.kind == "i":
        base = base * np.where(np.arange(16) % 2, 1, -1)
    return base.astype(dt)


def numpy_or_error(fn, *args):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args), None
        except Exception as exc:  # NumPy refuses this dtype combination
            return None, exc


def check(fn, *args, jit_options):
    expected, err = numpy_or_error(fn, *args)
    f = jit(fn, **jit_options)
    if err is not None:
        with pytest.raises(type(err) if not isinstance(err, TypeError) else TypeError):
            f(*args)
        return
    with np.errstate(all="ignore"):
        assert_same(f(*args), expected)


@pytest.mark.parametrize("ufunc", FLOAT_UNARY + ANY_UNARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unary(ufunc, dtype, jit_options):
    check(lambda x: ufunc(x), values(dtype), jit_options=jit_options)


@pytest.mark.parametrize("ufunc", BINARY + INT_BINARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float32, np.float64), (np.int32, np.float32),
                                    (np.int64, np.int64), (np.uint8, np.int8), (np.bool_, np.bool_),
                                    (np.float16, np.int8)], ids=str)
def test_binary(ufunc, dtypes, jit_options):
    a, b = values(dtypes[0]), values(dtypes[1])[::-1].copy()
    check(lambda x, y: ufunc(x, y), a, b, jit_options=jit_options)


@pytest.mark.parametrize("scalar", [2, 2.5, True, -3, 300], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.float16, np.int64], ids=lambda d: d.__name__)
def test_nep50_python_scalars_are_weak(scalar, dtype, jit_options):
    x = values(dtype)
    for fn in (lambda a: a + scalar, lambda a: scalar * a, lambda a: a < scalar, lambda a: a / scalar):
        check(fn, x, jit_options=jit_options)


def test_numpy_scalars_are_strong(jit_options):
    x = values(np.float32)
    check(lambda a: a * np.float64(2.0), x, jit_options=jit_options)
    check(lambda a: a + np.int64(1), values(np.int8), jit_options=jit_options)


def test_operators_and_inplace_operators(jit_options):
    def f(x, y):
        z = x.copy()
        z += y
        z *= 2
        z -= 1
        z /= 3
        w = (x @ y.T) ** 2 - (-x).sum() + abs(y).max()
        m = (x > 0) & (y < 1) | ~(x == y) ^ (x != 0)
        return z, w, m, x // 2, x % 3, 2 ** x[:1], 1 - x, 2 / (y + 10)

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_same(jit(f, **jit_options)(x, y), f(x, y), rtol=1e-12)


def test_int_inplace_with_float_is_a_casting_error(jit_options):
    def f(x):
        y = x.copy()
        y += 1.5
        return y

    with pytest.raises(TypeError, match="cannot cast"):
        jit(f, **jit_options)(np.arange(3))


def test_ufunc_out_and_where(jit_options):
    def f(x, y):
        out = np.zeros_like(x)
        np.add(x, y, out=out, where=x > 0)
        np.multiply(out, 2, out=out)
        return out

    x, y = np.arange(-2.0, 3.0), np.ones(5)
    assert_same(jit(f, **jit_options)(x, y), f(x, y))
