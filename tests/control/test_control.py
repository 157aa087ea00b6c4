"""fusejit.cond / switch / fori_loop / while_loop / scan: jitted results against running the same
function as plain Python (the primitives run eagerly outside a trace), and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fusejit
from fusejit.tracer.errors import ConcretizationError, SideEffectError, TracingError


def _same(a, b) -> None:
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-12)
    assert np.asarray(a).dtype == np.asarray(b).dtype


def clip_by_norm(g: np.ndarray, limit: float) -> np.ndarray:
    norm = np.linalg.norm(g)
    return fusejit.cond(norm > limit, lambda g: g * (limit / norm), lambda g: g, g)


@pytest.mark.parametrize("limit", [1.0, 100.0])
def test_cond_gradient_clipping_matches_python(limit: float) -> None:
    g = np.arange(6.0).reshape(2, 3)
    _same(fusejit.jit(clip_by_norm)(g, limit), clip_by_norm(g, limit))


def test_a_plain_python_if_on_a_traced_value_still_raises() -> None:
    def clip(g):
        if np.linalg.norm(g) > 1.0:
            return g / np.linalg.norm(g)
        return g

    with pytest.raises(ConcretizationError):  # without a call's data (on a call: tracer/speculation.py)
        fusejit.freeze(fusejit.jit(clip), fusejit.Spec((3,), np.float64))


def test_cond_with_a_concrete_predicate_runs_only_the_chosen_branch() -> None:
    ran = []

    @fusejit.jit
    def f(x, flag):
        return fusejit.cond(flag, lambda x: ran.append("t") or x + 1, lambda x: ran.append("f") or x - 1, x)

    _same(f(np.ones(2), True), np.full(2, 2.0))
    assert ran == ["t"]


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 9])
def test_switch_clamps_like_jax_and_matches_python(index: int) -> None:
    branches = [lambda x: x + 1, lambda x: x * 2, lambda x: -x]

    def f(x, i):
        return fusejit.switch(i, branches, x)

    x = np.linspace(-1, 1, 5)
    expected = branches[min(max(index, 0), 2)](x)
    _same(fusejit.jit(f)(x, np.int64(index)), expected)
    _same(f(x, index), expected)


def test_switch_refuses_a_float_index() -> None:
    with pytest.raises(TracingError, match="integer"):
        fusejit.jit(lambda x, i: fusejit.switch(i, [lambda x: x], x))(np.ones(2), np.float64(0))


def test_cond_branches_must_agree_on_shape_and_dtype() -> None:
    with pytest.raises(TracingError, match="shape"):
        fusejit.jit(lambda x: fusejit.cond(x.sum() > 0, lambda x: x, lambda x: x[:1], x))(np.ones(2))
    with pytest.raises(TracingError, match="dtype"):
        fusejit.jit(lambda x: fusejit.cond(x.sum() > 0, lambda x: x, lambda x: x.astype(np.float32), x))(np.ones(2))
    with pytest.raises(TracingError, match="structures"):
        fusejit.jit(lambda x: fusejit.cond(x.sum() > 0, lambda x: (x, x), lambda x: x, x))(np.ones(2))


def test_cond_merges_variable_updates() -> None:
    v = fusejit.Variable(np.zeros(3))
    w = fusejit.Variable(np.zeros(3))

    @fusejit.jit
    def step(x):
        def up():
            v.assign_add(x)

        def down():
            w.assign(w.read() - x)

        fusejit.cond(x.sum() > 0, up, down)
        return v.read() + w.read()

    step(np.ones(3))
    step(-2 * np.ones(3))
    out = step(np.full(3, 3.0))
    _same(v.numpy(), np.full(3, 4.0))
    _same(w.numpy(), np.full(3, 2.0))
    _same(out, np.full(3, 6.0))


def test_cond_refuses_stores_into_python_objects() -> None:
    class Layer:
        cache = None

    layer = Layer()

    def keep(x):
        layer.cache = x

    with pytest.raises(SideEffectError, match="Variable"):
        fusejit.jit(lambda x: fusejit.cond(x.sum() > 0, keep, lambda x: None, x))(np.ones(2))


def test_cond_is_differentiable() -> None:
    def f(x):
        return fusejit.cond(x.sum() > 0, lambda x: (x ** 2).sum(), lambda x: x.sum() * 3.0, x)

    _same(fusejit.grad(f)(np.array([1.0, 2.0])), np.array([2.0, 4.0]))
    _same(fusejit.grad(f)(np.array([-1.0, -2.0])), np.array([3.0, 3.0]))


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.floats(-2, 2))
def test_random_nested_branches_match_python(choices: list[int], shift: float) -> None:
    # exact operations on dyadic values: a transcendental's last-ulp difference from NumPy's
    # (vector math) could flip a branch whose predicate sits on the knife edge
    ops = [lambda x: x + 1.5, lambda x: x * -0.5, np.abs, lambda x: x - 0.75]

    def program(x, s):
        for c in choices:
            x = fusejit.cond((x.sum() + s) > 0, ops[c], ops[(c + 1) % 4], x)
            x = fusejit.switch((x > 0).sum(), ops, x)
        return x

    x = np.array([-1.0, -0.5, 0.25, 1.0])
    _same(fusejit.jit(program)(x, np.float64(shift)), program(x, shift))


def test_fori_loop_matches_python_and_gets_python_ints() -> None:
    def f(x):
        return fusejit.fori_loop(1, 6, lambda i, v: v * 2 + x[i % 3], x[0] * 0)

    x = np.array([1.0, 2.0, 3.0])
    _same(fusejit.jit(f)(x), f(x))


def test_fori_loop_refuses_traced_bounds_and_changing_carries() -> None:
    with pytest.raises(ConcretizationError, match="static trip count"):
        fusejit.jit(lambda n, x: fusejit.fori_loop(0, n, lambda i, v: v + 1, x))(np.int64(3), np.ones(2))
    with pytest.raises(TracingError, match="keep its shape and dtype"):
        fusejit.jit(lambda x: fusejit.fori_loop(0, 2, lambda i, v: v.astype(np.float32), x))(np.ones(2))


def newton_sqrt(a: np.ndarray, steps: int = 20) -> np.ndarray:
    """Newton's iteration for sqrt with a Python step counter carried along."""
    def body(c):
        i, x = c
        return i + 1, 0.5 * (x + a / x)

    return fusejit.while_loop(lambda c: c[0] < steps, body, (0, a * 0 + 1.0))[1]


def test_newton_solver_with_while_loop() -> None:
    a = np.array([2.0, 9.0, 0.25])
    _same(fusejit.jit(newton_sqrt)(a), newton_sqrt(a))
    np.testing.assert_allclose(fusejit.jit(newton_sqrt)(a), np.sqrt(a))


def test_while_loop_on_traced_data_is_refused_with_the_reason() -> None:
    def until_converged(a):
        return fusejit.while_loop(lambda x: np.abs(x * x - a).max() > 1e-9, lambda x: 0.5 * (x + a / x), a)

    np.testing.assert_allclose(until_converged(np.array([2.0])), np.sqrt([2.0]))  # eager: Python runs it
    with pytest.raises(ConcretizationError, match="data-dependent loops"):
        fusejit.jit(until_converged)(np.array([2.0]))


@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_over_100_steps_with_scan(reverse: bool) -> None:
    rng = np.random.default_rng(0)
    w, u = rng.standard_normal((2, 8, 8)) * 0.3
    xs = rng.standard_normal((100, 4, 8))

    def rnn(h, xs, w, u):
        def cell(h, x):
            h = np.tanh(h @ w + x @ u)
            return h, h.sum(axis=1)

        return fusejit.scan(cell, h, xs, reverse=reverse)

    h0 = np.zeros((4, 8))
    got, expected = fusejit.jit(rnn)(h0, xs, w, u), rnn(h0, xs, w, u)
    _same(got, expected)
    assert got[1].shape == (100, 4)


def test_scan_gradient_and_pytrees() -> None:
    def loss(w, xs):
        carry, ys = fusejit.scan(lambda c, x: (c * w + x["a"], {"y": c * x["b"]}), 0.0 * w, xs)
        return (carry ** 2).sum() + ys["y"].sum()

    xs = {"a": np.arange(6.0).reshape(3, 2), "b": np.ones((3, 2))}
    w = np.array([0.5, -1.0])
    _same(fusejit.jit(loss)(w, xs), loss(w, xs))
    eps = 1e-6
    numeric = [(loss(w + eps * e, xs) - loss(w - eps * e, xs)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(fusejit.grad(loss)(w, xs), numeric, rtol=1e-5)


def test_scan_errors() -> None:
    with pytest.raises(TracingError, match="disagree"):
        fusejit.scan(lambda c, x: (c, x), 0.0, [np.ones(3), np.ones(4)])
    with pytest.raises(TracingError, match="give xs or length"):
        fusejit.scan(lambda c, x: (c, x), 0.0, None)
    carry, ys = fusejit.scan(lambda c, _: (c + 1, None), 0, None, length=4)
    assert carry == 4 and ys is None
