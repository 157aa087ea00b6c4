"""Optimizers: TensorFlow's formulas, checked against PyTorch (ε = 0, where the two agree) and
eagerly against the same step inside jit; one compiled program writing every update in place."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import train

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((24, 8)).astype(np.float32)
B0 = RNG.standard_normal(8).astype(np.float32)
X = RNG.standard_normal((16, 24)).astype(np.float32)
Y = RNG.standard_normal((16, 8)).astype(np.float32)
STEPS = 4

CASES = {  # fusejit optimizer, torch optimizer (None: no torch twin), both with epsilon 0
    "sgd": (lambda: train.GradientDescent(0.1), lambda p, t: t.optim.SGD(p, lr=0.1)),
    "momentum": (lambda: train.Momentum(0.05, 0.9), lambda p, t: t.optim.SGD(p, lr=0.05, momentum=0.9)),
    "nesterov": (lambda: train.Momentum(0.05, 0.9, nesterov=True),
                 lambda p, t: t.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "adam": (lambda: train.Adam(0.01, epsilon=0.0), lambda p, t: t.optim.Adam(p, lr=0.01, eps=0.0)),
    "adamw": (lambda: train.AdamW(0.01, weight_decay=0.1, epsilon=0.0),
              lambda p, t: t.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0)),
    "rmsprop": (lambda: train.RMSProp(0.01, rho=0.9, epsilon=0.0),
                lambda p, t: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0)),
    "rmsprop_centered_momentum": (lambda: train.RMSProp(0.01, rho=0.9, momentum=0.5, centered=True, epsilon=0.0),
                                  lambda p, t: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                                               eps=0.0)),
    "adagrad": (lambda: train.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0.0),
                lambda p, t: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
}


def loss(W, b, x, y):
    return np.mean((x @ W + b - y) ** 2)


def jit_run(make):
    W, b, opt = fusejit.Variable(W0, name="W"), fusejit.Variable(B0, name="b"), make()

    @fusejit.jit
    def step(x, y):
        return opt.minimize(lambda: loss(W, b, x, y), [W, b])

    losses = [float(step(X, Y)) for _ in range(STEPS)]
    return W.numpy(), b.numpy(), losses, opt, step


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_and_eager(name):
    make, make_torch = CASES[name]
    W, b, losses, opt, _ = jit_run(make)
    assert losses[-1] < losses[0]
    assert int(opt.iterations.numpy()) == STEPS
    # eagerly, the same optimizer code in NumPy: bitwise the same updates
    W2, b2, opt2 = fusejit.Variable(W0), fusejit.Variable(B0), make()
    vg = fusejit.value_and_grad(loss, argnums=(0, 1))
    for _ in range(STEPS):
        _, (gw, gb) = vg(W2.numpy(), b2.numpy(), X, Y)
        opt2.apply_gradients([(gw, W2), (gb, b2)])
    np.testing.assert_array_equal(W2.numpy(), W)
    np.testing.assert_array_equal(b2.numpy(), b)
    torch = pytest.importorskip("torch")
    tw, tb = torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)
    topt = make_torch([tw, tb], torch)
    for _ in range(STEPS):
        topt.zero_grad()
        ((torch.tensor(X) @ tw + tb - torch.tensor(Y)) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(W, tw.detach().numpy(), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(b, tb.detach().numpy(), rtol=2e-5, atol=2e-6)


def _adam_reference(eps: float):
    """TensorFlow's Adam, written out in float32 from the Keras source's formulas."""
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t in range(1, STEPS + 1):
        g = (2 / Y.size) * X.T @ (X @ w + B0 - Y)
        m = m + (g - m) * np.float32(0.1)
        v = v + (g * g - v) * np.float32(0.001)
        alpha = np.float32(0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t))
        w = w - alpha * m / (np.sqrt(v) + np.float32(eps))
    return w


def test_adam_epsilon_is_tensorflows():
    """ε outside the bias correction: with a large ε the TF and PyTorch placements differ visibly."""
    W = fusejit.Variable(W0)
    opt = train.Adam(0.01, epsilon=1e-2)

    @fusejit.jit
    def step(x, y):
        return opt.minimize(lambda: loss(W, B0, x, y), [W])

    for _ in range(STEPS):
        step(X, Y)
    np.testing.assert_allclose(W.numpy(), _adam_reference(1e-2), rtol=1e-5, atol=1e-6)
    assert W.numpy().dtype == np.float32


def test_one_program_updates_in_place():
    *_, opt, step = jit_run(CASES["adam"][0])
    exe = step.lower(X, Y)
    n_inputs = len(exe.graph.inputs)
    state = {v.name for v in [*opt.variables().values()]} | {"W", "b"}
    written = {exe.graph.inputs[i].name for i in exe.inplace.values()}
    assert state - {opt.learning_rate.name} <= written, (state, written)  # every update writes its own buffer
    assert all(i < n_inputs for i in exe.inplace.values())
    assert exe.num_kernels <= 6  # the updates are epilogues of the gradient kernels (5 when this was written)


def test_learning_rate_variable_and_no_retrace():
    W = fusejit.Variable(W0)
    opt = train.GradientDescent(0.1)

    @fusejit.jit
    def step(x, y):
        return opt.minimize(lambda: loss(W, B0, x, y), [W])

    step(X, Y)
    before = W.numpy()
    opt.learning_rate.assign(0.0)
    step(X, Y)
    np.testing.assert_array_equal(W.numpy(), before)
    assert step.lower(X, Y) is step.lower(X, Y)
    with pytest.raises(AttributeError, match="learning_rate.assign"):
        opt.momentum = 0.5


def test_tf2_habit_tape_clip_apply():
    W, b = fusejit.Variable(W0), fusejit.Variable(B0)
    opt = train.Momentum(0.1, 0.9)
    step_var = fusejit.Variable(np.int64(0), name="global_step")

    @fusejit.jit
    def step(x, y):
        with fusejit.GradientTape() as tape:
            l = loss(W, b, x, y)
        grads = tape.gradient(l, [W, b])
        grads, norm = train.clip_by_global_norm(grads, 0.5)
        opt.apply_gradients(zip(grads, [W, b]), global_step=step_var)
        return l, norm

    _, norm = step(X, Y)
    gw, gb = fusejit.grad(loss, argnums=(0, 1))(W0, B0, X, Y)
    expect = np.sqrt(np.sum(gw * gw) + np.sum(gb * gb))
    np.testing.assert_allclose(norm, expect, rtol=1e-5)
    np.testing.assert_allclose(W.numpy(), W0 - 0.1 * gw * (0.5 / expect), rtol=1e-5, atol=1e-6)
    assert int(step_var.numpy()) == 1 and int(opt.iterations.numpy()) == 1


def test_minimize_outside_jit():
    W = fusejit.Variable(W0)
    opt = train.GradientDescent(0.1)
    l0 = opt.minimize(lambda: loss(W, B0, X, Y), [W])
    gw = fusejit.grad(loss)(W0, B0, X, Y)
    np.testing.assert_allclose(float(l0), float(loss(W0, B0, X, Y)), rtol=1e-6)
    np.testing.assert_allclose(W.numpy(), W0 - np.float32(0.1) * gw, rtol=1e-6, atol=1e-7)


def test_errors_name_the_problem():
    W = fusejit.Variable(W0, name="W")
    opt = train.Adam()
    with pytest.raises(train.OptimizerError, match=r"Variable 'W' has shape \(3,\), expected .*\(24, 8\)"):
        opt.apply_gradients([(np.zeros(3, np.float32), W)])
    with pytest.raises(train.OptimizerError, match="no gradients provided for any variable \\('W'\\)"):
        opt.apply_gradients([(None, W)])
    with pytest.raises(train.OptimizerError, match="only float"):
        opt.apply_gradients([(np.zeros(2), fusejit.Variable(np.zeros(2, np.int32), name="i"))])
    with pytest.raises(train.OptimizerError, match="inside a @fusejit.jit"):
        opt.compute_gradients(lambda: loss(W, B0, X, Y), [W])
    with pytest.raises(train.OptimizerError, match=r"var_list\[0\] is a TracedArray, not a fusejit.Variable"):
        fusejit.jit(lambda: opt.minimize(lambda: loss(W, B0, X, Y), [W0]))()
    with pytest.raises(train.OptimizerError, match="zero-argument callable"):
        fusejit.jit(lambda: opt.minimize(loss(W, B0, X, Y), [W]))()


def test_compute_gradients_pairs():
    W, b = fusejit.Variable(W0, name="W"), fusejit.Variable(B0, name="b")
    opt = train.Adam()

    @fusejit.jit
    def grads(x, y):
        return [g for g, _ in opt.compute_gradients(lambda: loss(W, b, x, y), [W, b])]

    gw, gb = grads(X, Y)
    want = fusejit.grad(loss, argnums=(0, 1))(W0, B0, X, Y)
    np.testing.assert_allclose(gw, want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(W.numpy(), W0)  # computing gradients changes nothing
    assert int(opt.iterations.numpy()) == 0
