"""The user-facing transforms on compiled code: grad, value_and_grad, vjp, jvp, jacobian, hessian,
argument trees, has_aux, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.ir.registry import GradientError


def loss(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = x @ W + b
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(logp * y).sum(axis=1).mean()


def loss_grads(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = x @ W + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - y) / len(x)
    return x.T @ dz, dz.sum(axis=0)


@pytest.fixture
def problem(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal((5, 6)),
            np.eye(4)[rng.integers(0, 4, 5)])


def test_value_and_grad_matches_hand_written(problem: tuple) -> None:
    (val, (dW, db)) = fusejit.value_and_grad(loss, argnums=(0, 1))(*problem)
    want = loss_grads(*problem)
    np.testing.assert_allclose(val, loss(*problem), rtol=1e-12)
    np.testing.assert_allclose(dW, want[0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(db, want[1], rtol=1e-10, atol=1e-14)
    assert fusejit.grad(loss)(*problem).shape == (6, 4)


def test_grad_of_jit_and_jit_of_grad_agree(problem: tuple) -> None:
    a = fusejit.grad(fusejit.jit(loss), argnums=(0, 1))(*problem)
    b = fusejit.jit(fusejit.grad(loss, argnums=(0, 1)))(*problem)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_grad_of_jit_keeps_its_options(problem: tuple) -> None:
    jf = fusejit.jit(loss, backend="reference")
    g = fusejit.grad(jf, argnums=(0, 1))
    for x, y in zip(g(*problem), loss_grads(*problem)):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)
    assert jf.trace_count == 0 and not hasattr(g, "trace_count")  # jf's state is not copied onto g


def test_value_and_grad_is_one_program(problem: tuple) -> None:
    vg = fusejit.jit(fusejit.value_and_grad(loss, argnums=(0, 1)))
    vg(*problem)
    assert vg.trace_count == 1


def test_trees_and_has_aux(rng: np.random.Generator) -> None:
    params = {"w": rng.standard_normal(3), "layers": [rng.standard_normal((2, 3)), rng.standard_normal(2)]}

    def f(p: dict, x: np.ndarray) -> tuple:
        h = p["layers"][0] @ (p["w"] * x) + p["layers"][1]
        return np.sum(h ** 2), {"h": h}

    (g, aux) = fusejit.grad(f, has_aux=True)(params, rng.standard_normal(3))
    assert set(g) == {"w", "layers"} and isinstance(g["layers"], list) and g["layers"][0].shape == (2, 3)
    np.testing.assert_allclose(g["layers"][1], 2 * aux["h"], rtol=1e-12)


def test_python_scalar_argument() -> None:
    assert fusejit.grad(lambda x: x ** 3)(2.0) == pytest.approx(12.0)


def test_vjp_and_jvp(rng: np.random.Generator) -> None:
    x, u, v = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 4))

    def f(x: np.ndarray) -> np.ndarray:
        return np.tanh(x).sum(axis=0) * x[0]

    out, pullback = fusejit.vjp(f, x)
    np.testing.assert_allclose(out, f(x), rtol=1e-12)
    (ct,) = pullback(u)
    y, t = fusejit.jvp(f, (x,), (v,))
    np.testing.assert_allclose(y, f(x), rtol=1e-12)
    assert np.sum(u * t) == pytest.approx(np.sum(ct * v), rel=1e-10)
    eps = 1e-6
    np.testing.assert_allclose(t, (f(x + eps * v) - f(x - eps * v)) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_hvp_and_hessian(rng: np.random.Generator) -> None:
    A = rng.standard_normal((4, 4))
    A = A + A.T

    def f(x: np.ndarray) -> np.ndarray:
        return 0.5 * x @ A @ x + np.sum(np.sin(x))

    x, v = rng.standard_normal(4), rng.standard_normal(4)
    H = A - np.diag(np.sin(x))
    hvp = fusejit.jvp(fusejit.grad(f), (x,), (v,))[1]
    np.testing.assert_allclose(hvp, H @ v, rtol=1e-10)
    np.testing.assert_allclose(fusejit.hessian(f)(x), H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fusejit.grad(fusejit.grad(lambda x: np.sum(np.sin(x))) and
                                            (lambda x: np.sum(np.cos(x))))(x), -np.sin(x), rtol=1e-12)


def test_jacobian(rng: np.random.Generator) -> None:
    x = rng.standard_normal(3)
    J = fusejit.jacobian(lambda x: np.outer(x, x))(x)
    want = np.einsum("ik,j->ijk", np.eye(3), x) + np.einsum("i,jk->ijk", x, np.eye(3))
    np.testing.assert_allclose(J, want, rtol=1e-12)


def test_errors(rng: np.random.Generator) -> None:
    x = rng.standard_normal(3)
    with pytest.raises(GradientError, match="argument 'n'.*int64.*integers and bools have no gradient"):
        fusejit.grad(lambda x, n: np.sum(x * n), argnums=1)(x, np.arange(3))
    with pytest.raises(GradientError, match=r"shape \(3,\).*use fusejit.vjp"):
        fusejit.grad(np.sin)(x)
    with pytest.raises(GradientError, match="has_aux=True"):
        fusejit.grad(lambda x: np.sum(x), has_aux=True)(x)


def test_integer_and_constant_paths_have_zero_gradient(rng: np.random.Generator) -> None:
    x = rng.uniform(1, 5, 4)
    g = fusejit.grad(lambda x: np.sum(np.floor(x) * x + x.astype(np.int64)))(x)
    np.testing.assert_array_equal(g, np.floor(x))
    np.testing.assert_array_equal(fusejit.grad(lambda x: np.float64(3.0))(x), np.zeros(4))


def test_repeated_vjp_and_jvp_calls_reuse_their_programs(rng: np.random.Generator) -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.exp(x) * 2

    x = rng.standard_normal(3)
    for _ in range(3):
        _, pullback = fusejit.vjp(f, x)
        np.testing.assert_allclose(pullback(np.ones(3))[0], 2 * np.exp(x), rtol=1e-12)
        np.testing.assert_allclose(fusejit.jvp(f, (x,), (np.ones(3),))[1], 2 * np.exp(x), rtol=1e-12)
    from fusejit.autodiff.api import _COMPILED

    assert all(j.trace_count == 1 for j in _COMPILED[f].values())


def test_an_op_without_a_rule_is_named(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    import dataclasses

    from fusejit.ir import registry

    monkeypatch.setitem(registry._REGISTRY, "sinh", dataclasses.replace(registry.get_op("sinh"), vjp=None))
    with pytest.raises(GradientError, match="no gradient rule for op 'sinh'.*stop_gradient.*custom_vjp"):
        fusejit.jit(fusejit.grad(lambda x: np.sum(np.sinh(x))), backend="reference")(rng.standard_normal(3))
    # not on the differentiated path: no rule needed
    g = fusejit.jit(fusejit.grad(lambda x: np.sum(x * fusejit.stop_gradient(np.sinh(x)))), backend="reference")
    x = rng.standard_normal(3)
    np.testing.assert_allclose(g(x), np.sinh(x), rtol=1e-12)


def test_dynamic_dims_one_program_for_every_size(rng: np.random.Generator) -> None:
    """Rules on symbolic dims (the batch): a suffix sum over a dynamic axis, the mean's numel of a
    value only the forward pass computes (its reader, numel, is a source: the planner crashed)."""
    def f(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = x @ W
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -(logp * y).sum(axis=1).mean() + (np.cumsum(x, axis=0) ** 2).sum() * 0.5 + (x[:, 1:] * 2).sum()

    spec = [fusejit.Spec((4, 3), np.float64), fusejit.Spec(("N", 4), np.float64), fusejit.Spec(("N", 3), np.float64)]
    g = fusejit.jit(fusejit.grad(f, argnums=(0, 1)), input_signature=spec)
    W = rng.standard_normal((4, 3))
    for n in (5, 7):
        x, y = rng.standard_normal((n, 4)), np.eye(3)[rng.integers(0, 3, n)]
        want = fusejit.jit(fusejit.grad(f, argnums=(0, 1)), backend="reference")(W, x, y)
        for a, b in zip(g(W, x, y), want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert g.trace_count == 1
