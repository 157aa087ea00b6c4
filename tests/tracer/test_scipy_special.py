"""SciPy special functions recognized by identity (ufuncs decomposed into primitives; the Python
wrappers softmax/log_softmax/logsumexp run as written, their np.asarray passing traced arrays through)."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit

sp = pytest.importorskip("scipy.special")

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 0.3, 0.65, 0.29, 0.66, 1e-300, 1e-30, 7.5, -7.5, 40.0, -40.0, np.inf, -np.inf,
         np.nan, 2.0, 0.999, 1e-8]
RTOL = {np.float32: 4e-6, np.float64: 1e-13}


def data(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([np.array(EDGES), rng.standard_normal(40) * 3, rng.uniform(0, 1, 40)]).astype(dtype)
    return x, np.roll(x, 7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "rel_entr", "kl_div", "huber"])
def test_binary(name, dtype) -> None:
    f = getattr(sp, name)
    x, y = data(dtype)
    with np.errstate(all="ignore"):
        want = f(x, y)
    got = fusejit.jit(f)(x, y)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logit", "entr", "ndtr", "expit", "erfc"])
def test_unary(name, dtype) -> None:
    f = getattr(sp, name)
    x, _ = data(dtype)
    with np.errstate(all="ignore"):
        want = f(x)
    got = fusejit.jit(lambda a: f(a))(x)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("f", [lambda a: sp.softmax(a, axis=-1), lambda a: sp.log_softmax(a, axis=1),
                               lambda a: sp.logsumexp(a, axis=-1), lambda a: sp.logsumexp(a)],
                         ids=["softmax", "log_softmax", "logsumexp_axis", "logsumexp"])
def test_python_wrappers(f) -> None:
    a = np.random.default_rng(1).standard_normal((4, 6)) * 10
    got, want = fusejit.jit(f)(a), f(a)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)
