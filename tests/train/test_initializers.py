"""Initializers: Keras's scales and fans, seeded bits, dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fusejit
from fusejit.train import initializers as init


def test_constants():
    np.testing.assert_array_equal(init.zeros((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(init.ones(4, dtype=np.float64), np.ones(4))
    np.testing.assert_array_equal(init.constant((2, 2), [1, 2]), np.array([[1, 2], [1, 2]], np.float32))


def test_fans():
    assert init.fans((300, 200)) == (300, 200)
    assert init.fans((5, 5, 32, 64)) == (800, 1600)
    assert init.fans((7,)) == (7, 7) and init.fans(()) == (1, 1)


@pytest.mark.parametrize("fn, std, bound", [
    (lambda s: init.random_normal(s, 1.0, 0.5, seed=3), 0.5, None),
    (lambda s: init.truncated_normal(s, 0.0, 0.5, seed=3), 0.5 * 0.87962566103423978, 1.0),
    (lambda s: init.random_uniform(s, -0.3, 0.3, seed=3), 0.3 / math.sqrt(3), 0.3),
    (lambda s: init.glorot_uniform(s, seed=3), math.sqrt(2 / (400 + 100)), math.sqrt(6 / 500)),
    (lambda s: init.xavier(s, seed=3), math.sqrt(2 / (400 + 100)), math.sqrt(6 / 500)),
    (lambda s: init.he_normal(s, seed=3), math.sqrt(2 / 400), 2 * math.sqrt(2 / 400) / 0.87962566103423978),
    (lambda s: init.variance_scaling(s, 3.0, "fan_out", "normal", seed=3), math.sqrt(3 / 100), None),
])
def test_scales(fn, std, bound):
    a = fn((400, 100))
    assert a.dtype == np.float32 and a.shape == (400, 100)
    assert abs(a.std() / std - 1) < 0.03
    if bound is not None:
        assert np.abs(a).max() <= bound * (1 + 1e-6)
    np.testing.assert_array_equal(fn((400, 100)), a)  # seeded: the same bits


def test_seeds_and_keys():
    a = init.he_normal((8, 8), seed=1)
    assert not np.array_equal(a, init.he_normal((8, 8), seed=2))
    np.testing.assert_array_equal(init.he_normal((8, 8), seed=fusejit.random.key(1)), a)
    np.testing.assert_array_equal(fusejit.jit(lambda: init.he_normal((8, 8), seed=1))(), a)
    assert not np.array_equal(init.random_normal(5), init.random_normal(5))  # unseeded: fresh entropy
    assert init.glorot_uniform((3, 3), seed=0, dtype=np.float64).dtype == np.float64


def test_errors():
    with pytest.raises(ValueError, match="mode must be"):
        init.variance_scaling((2, 2), mode="fan_sum", seed=0)
    with pytest.raises(ValueError, match="distribution must be"):
        init.variance_scaling((2, 2), distribution="cauchy", seed=0)
