"""GradientTape inside jit (variables watched automatically, tape.watch, persistent, jacobian),
custom_vjp / custom_jvp, stop_gradient and in-place NumPy code under differentiation."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.ir.registry import GradientError


def test_train_step_with_a_tape(rng: np.random.Generator) -> None:
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    W, b = fusejit.Variable(w0), fusejit.Variable(b0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))

    @fusejit.jit
    def train_step(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with fusejit.GradientTape() as tape:
            l = np.mean((x @ W + b - y) ** 2)  # noqa: E741
        dW, db = tape.gradient(l, [W, b])
        W.assign_sub(0.1 * dW)
        b.assign_sub(0.1 * db)
        return l

    l0 = train_step(x, y)
    r = x @ w0 + b0 - y
    np.testing.assert_allclose(l0, np.mean(r ** 2), rtol=1e-12)
    np.testing.assert_allclose(W.numpy(), w0 - 0.1 * x.T @ (2 * r / r.size), rtol=1e-12)
    np.testing.assert_allclose(b.numpy(), b0 - 0.1 * (2 * r / r.size).sum(0), rtol=1e-12)
    assert train_step(x, y) < l0
    assert train_step.trace_count == 1


def test_watch_persistent_and_jacobian(rng: np.random.Generator) -> None:
    @fusejit.jit
    def f(x: np.ndarray) -> tuple:
        y0 = x * 3  # before the tape: not recorded
        with fusejit.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = np.sin(x) * y0
        return tape.gradient(y.sum(), x), tape.gradient(y, x), tape.jacobian(y, x)

    x = rng.standard_normal(3)
    g1, g2, J = f(x)
    np.testing.assert_allclose(g1, np.cos(x) * 3 * x, rtol=1e-12)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(J, np.diag(np.cos(x) * 3 * x), rtol=1e-12)


def test_tape_errors(rng: np.random.Generator) -> None:
    with pytest.raises(GradientError, match="inside a @fusejit.jit function"):
        with fusejit.GradientTape():
            pass

    @fusejit.jit
    def twice(x: np.ndarray) -> np.ndarray:
        with fusejit.GradientTape() as tape:
            tape.watch(x)
            y = np.sum(x * x)
        tape.gradient(y, x)
        return tape.gradient(y, x)

    with pytest.raises(GradientError, match="persistent=True"):
        twice(rng.standard_normal(2))

    @fusejit.jit
    def unwatched(x: np.ndarray) -> np.ndarray:
        with fusejit.GradientTape() as tape:
            y = np.sum(x * x)
        return tape.gradient(y, x)

    with pytest.raises(GradientError, match="tape.watch"):
        unwatched(rng.standard_normal(2))


@fusejit.custom_vjp
def clip_gradient(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return x


def _clip_fwd(x: np.ndarray, lo: float, hi: float) -> tuple:
    return x, (lo, hi)


def _clip_bwd(res: tuple, g: np.ndarray) -> tuple:
    return np.clip(g, res[0], res[1]), None, None


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


@fusejit.custom_vjp
def log1pexp(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x))


log1pexp.defvjp(lambda x: (log1pexp(x), x), lambda x, g: (g * (1 - 1 / (1 + np.exp(x))),))


def test_custom_vjp(rng: np.random.Generator) -> None:
    x = rng.standard_normal(5) * 3
    g = fusejit.grad(lambda x: np.sum(clip_gradient(x, -0.5, 0.5) * x * 4))(x)
    np.testing.assert_allclose(g, np.clip(4 * x, -0.5, 0.5) + 4 * x, rtol=1e-12)
    np.testing.assert_array_equal(clip_gradient(x, 0, 1), x)  # outside a trace: the plain function
    big = np.array([1000.0, 0.0])
    np.testing.assert_allclose(fusejit.grad(lambda x: np.sum(log1pexp(x)))(big), [1, 0.5])
    # forward mode and second order go through the user's rule too
    _, t = fusejit.jvp(log1pexp, (big,), (np.ones(2),))
    np.testing.assert_allclose(t, [1, 0.5])


@fusejit.custom_jvp
def softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@softplus.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1 + np.exp(-x))


def test_custom_jvp(rng: np.random.Generator) -> None:
    x = rng.standard_normal(4)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(fusejit.grad(lambda x: np.sum(softplus(x)))(x), sig, rtol=1e-12)
    np.testing.assert_allclose(fusejit.jvp(softplus, (x,), (np.ones(4),))[1], sig, rtol=1e-12)
    np.testing.assert_allclose(fusejit.grad(lambda x: np.sum(softplus(0.0 + x)))(x), sig, rtol=1e-12)


def test_stop_gradient(rng: np.random.Generator) -> None:
    x = rng.standard_normal(4)

    def f(x: np.ndarray) -> np.ndarray:
        return np.sum(x * fusejit.stop_gradient(x * 2))

    np.testing.assert_allclose(fusejit.grad(f)(x), 2 * x, rtol=1e-12)
    np.testing.assert_array_equal(fusejit.stop_gradient(x), x)
    hess = fusejit.hessian(f)(x)  # the gradient is the stopped factor itself: a constant
    np.testing.assert_array_equal(hess, np.zeros((4, 4)))


def test_in_place_numpy_code(rng: np.random.Generator) -> None:
    def f(x: np.ndarray, a: float) -> np.ndarray:
        out = np.ones_like(x)
        out[x < 0] *= a
        y = x.copy()
        y[1:3] += x[0:2] ** 2
        y[y > 2] = 0
        z = x * out
        np.clip(z, -1, 1, out=z)
        return np.sum(z * y)

    x = np.array([-2.0, 0.5, 1.5, -0.3, 3.0])
    g = fusejit.grad(f)(x, 2.0)
    eps = 1e-6
    fd = [(f(x + eps * e, 2.0) - f(x - eps * e, 2.0)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
