"""Derivatives at non-smooth and singular points, as the README's Autodiff section promises."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit


def grad(f, argnums=0):  # noqa: ANN001, ANN201  (compiled on the CPU: the conventions hold there too)
    return fusejit.grad(f, argnums=argnums)


def test_reduction_ties_split_evenly() -> None:
    np.testing.assert_array_equal(grad(lambda x: x.max())(np.array([1.0, 3.0, 3.0])), [0, 0.5, 0.5])
    np.testing.assert_array_equal(grad(lambda x: x.min(axis=1).sum())(np.array([[2.0, 2.0, 2.0], [1.0, 0.0, 5.0]])),
                                  [[1 / 3, 1 / 3, 1 / 3], [0, 1, 0]])


def test_maximum_and_minimum_at_a_tie_give_half_to_each() -> None:
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    for f, wx in ((np.maximum, [0, 0.5, 1]), (np.minimum, [1, 0.5, 0]), (np.fmax, [0, 0.5, 1])):
        gx, gy = grad(lambda a, b, f=f: np.sum(f(a, b)), (0, 1))(x, y)
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, 1 - np.array(wx))


def test_nan_gets_the_gradient_of_max() -> None:
    x = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(grad(lambda x: x.max())(x), [0, 1, 0])
    gx, gy = grad(lambda a, b: np.sum(np.fmax(a, b)), (0, 1))(x, np.full(3, 2.0))
    np.testing.assert_array_equal(gx, [0, 0, 1])
    np.testing.assert_array_equal(gy, [1, 1, 0])


def test_abs_at_zero() -> None:
    np.testing.assert_array_equal(grad(lambda x: np.sum(np.abs(x)))(np.array([-2.0, 0.0, 3.0])), [-1, 0, 1])


def test_sqrt_and_norm_at_zero() -> None:
    z = np.zeros(3)
    np.testing.assert_array_equal(grad(lambda x: np.sum(np.sqrt(x * x)))(z), z)
    np.testing.assert_array_equal(grad(lambda x: np.linalg.norm(x))(z), z)
    np.testing.assert_array_equal(grad(lambda x, y: np.sum(np.hypot(x, y)), (0, 1))(z, z), (z, z))
    assert grad(lambda x: np.sqrt(x))(0.0) == np.inf  # the true derivative where it is the question
    np.testing.assert_allclose(grad(lambda x: np.linalg.norm(x))(np.array([3.0, 4.0])), [0.6, 0.8])


@pytest.mark.parametrize("f", [
    lambda x: np.where(x > 0, np.log(x), 0.0),
    lambda x: np.where(x > 0, np.sqrt(x), 0.0),
    lambda x: np.where(x != 0, np.sin(x) / x, 1.0),
    lambda x: np.where(x < 100, np.exp(x), 0.0),
    lambda x: np.where(x > 0, x * (1 / x) ** 2, 0.0),
], ids=["log", "sqrt", "sinc", "exp-overflow", "reciprocal"])
def test_where_keeps_the_untaken_branch_out(f) -> None:  # noqa: ANN001
    x = np.array([-1.0, 0.0, 1000.0, 0.5])
    g = grad(lambda x: np.sum(f(x)))(x)
    assert np.isfinite(g).all(), g
    eps = 1e-7
    taken = np.array([0.5])  # a smooth point: the gradient is the derivative there
    np.testing.assert_allclose(grad(lambda x: np.sum(f(x)))(taken),
                               (f(taken + eps) - f(taken - eps)) / (2 * eps), rtol=1e-5)


def test_where_mask_survives_nested_selects_and_reuse() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        safe = np.where(x > 0, np.log(x), 0.0)
        return np.sum(np.where(x < 10, safe * 2, safe) + x)

    np.testing.assert_array_equal(grad(f)(np.array([0.0, -1.0])), [1, 1])


def test_forward_mode_follows_the_same_conventions() -> None:
    x, v = np.array([0.0, 1.0, 2.0]), np.ones(3)
    _, t = fusejit.jvp(lambda x: np.where(x > 0, np.log(x), 0.0), (x,), (v,))
    np.testing.assert_array_equal(t, [0, 1, 0.5])
    _, t = fusejit.jvp(lambda x: np.maximum(x, 1.0), (x,), (v,))
    np.testing.assert_array_equal(t, [0, 0.5, 1])
