"""Clipping: TensorFlow's formulas, eagerly and inside jit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fusejit
from fusejit import train

RNG = np.random.default_rng(1)
A = RNG.standard_normal((5, 4)).astype(np.float32)
B = RNG.standard_normal(7).astype(np.float32)


def both(fn, *args):
    """fn eagerly and jitted: the same values."""
    eager = fn(*args)
    jitted = fusejit.jit(fn)(*args)
    for e, j in zip(np.atleast_1d(eager) if not isinstance(eager, tuple) else eager,
                    np.atleast_1d(jitted) if not isinstance(jitted, tuple) else jitted):
        np.testing.assert_allclose(j, e, rtol=1e-6)
    return eager


def test_clip_by_value():
    out = both(lambda a: train.clip_by_value(a, -0.5, 0.25), A)
    np.testing.assert_array_equal(out, np.clip(A, -0.5, 0.25))


def test_clip_by_norm_and_axes():
    n = float(np.sqrt(np.sum(A.astype(np.float64) ** 2)))
    np.testing.assert_allclose(both(lambda a: train.clip_by_norm(a, 1.0), A), A / n, rtol=1e-6)
    big = np.float32(2 * n)
    np.testing.assert_array_equal(both(lambda a: train.clip_by_norm(a, 2 * n), A), A * big / big)
    rows = np.sqrt(np.sum(A * A, axis=1, keepdims=True))
    np.testing.assert_allclose(both(lambda a: train.clip_by_norm(a, 0.5, axes=1), A), A * 0.5 / np.maximum(rows, 0.5),
                               rtol=1e-6)
    zero = np.zeros(3, np.float32)
    np.testing.assert_array_equal(both(lambda a: train.clip_by_norm(a, 1.0), zero), zero)
    g = fusejit.grad(lambda a: np.sum(train.clip_by_norm(a, 1.0)))(zero)
    assert np.all(np.isfinite(g))  # no NaN from the square root at 0


def test_clip_by_average_norm():
    n = float(np.sqrt(np.sum(A.astype(np.float64) ** 2)))
    c = 0.01  # ‖A‖/size ≈ 0.2 > c: clipped to average norm c
    out = both(lambda a: train.clip_by_average_norm(a, c), A)
    np.testing.assert_allclose(np.sqrt(np.sum(out.astype(np.float64) ** 2)) / A.size, c, rtol=1e-5)
    np.testing.assert_allclose(both(lambda a: train.clip_by_average_norm(a, 10.0), A), A, rtol=1e-6)
    assert n / A.size > c


def test_global_norm_and_clip():
    n = math.sqrt(float(np.sum(A.astype(np.float64) ** 2) + np.sum(B.astype(np.float64) ** 2)))
    np.testing.assert_allclose(both(lambda a, b: train.global_norm([a, None, b]), A, B), n, rtol=1e-6)
    (ca, none, cb), norm = train.clip_by_global_norm([A, None, B], 1.0)
    assert none is None and ca.dtype == np.float32
    np.testing.assert_allclose(norm, n, rtol=1e-6)
    np.testing.assert_allclose(ca, A / n, rtol=1e-5)
    (ja, jb), jn = fusejit.jit(lambda a, b: train.clip_by_global_norm([a, b], 1.0))(A, B)
    np.testing.assert_allclose(ja, ca, rtol=1e-6)
    (same,), _ = train.clip_by_global_norm([A], 1e6)
    np.testing.assert_array_equal(same, A)


def test_global_norm_not_finite_gives_nan():
    bad = A.copy()
    bad[0, 0] = np.inf
    (ca, cb), norm = train.clip_by_global_norm([bad, B], 1.0)
    assert np.isinf(norm) and np.all(np.isnan(ca)) and np.all(np.isnan(cb))
    with pytest.raises(ValueError, match="no tensors"):
        train.global_norm([None])
