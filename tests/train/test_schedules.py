"""Schedules: closed forms at given steps, and driven by the optimizer's step inside the program."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fusejit
from fusejit import train


@pytest.mark.parametrize("step", [0, 1, 7, 10, 25, 100])
def test_closed_forms(step):
    assert math.isclose(train.exponential_decay(0.1, step, 10, 0.5), 0.1 * 0.5 ** (step / 10), rel_tol=1e-12)
    assert math.isclose(train.exponential_decay(0.1, step, 10, 0.5, staircase=True), 0.1 * 0.5 ** (step // 10),
                        rel_tol=1e-12)
    want = 1.0 if step <= 1 else 0.5 if step <= 10 else 0.1
    assert float(train.piecewise_constant(step, [1, 10], [1.0, 0.5, 0.1])) == want
    frac = min(step, 50) / 50
    assert math.isclose(train.cosine_decay(0.2, step, 50, alpha=0.1),
                        0.2 * (0.9 * 0.5 * (1 + math.cos(math.pi * frac)) + 0.1), rel_tol=1e-12)
    warm = train.linear_warmup(train.ExponentialDecay(0.1, 10, 0.5), step, 10)
    want = 0.1 * step / 10 if step < 10 else 0.1 * 0.5 ** ((step - 10) / 10)
    assert math.isclose(warm, want, rel_tol=1e-12)


def test_schedule_driven_by_the_step_inside_the_program():
    sched = train.PiecewiseConstant([2], [1.0, 0.0])  # steps 0, 1, 2 move; then the rate is 0
    W = fusejit.Variable(np.zeros(3, np.float32))
    opt = train.GradientDescent(sched)

    @fusejit.jit
    def step():
        return opt.minimize(lambda: np.sum(W * np.float32(1.0)), [W])

    seen = []
    for _ in range(5):
        step()
        seen.append(float(W.numpy()[0]))
    assert seen == [-1.0, -2.0, -3.0, -3.0, -3.0]
    assert len({id(step.lower()) for _ in range(2)}) == 1


def test_tf1_callable_learning_rate_with_global_step():
    gs = fusejit.Variable(np.int64(0), name="global_step")
    W = fusejit.Variable(np.zeros(2, np.float32))
    opt = train.GradientDescent(lambda: train.exponential_decay(1.0, gs, 1, 0.5))

    @fusejit.jit
    def step():
        return opt.minimize(lambda: np.sum(W), [W], global_step=gs)

    for _ in range(3):
        step()
    np.testing.assert_array_equal(W.numpy(), -np.float32(1 + 0.5 + 0.25))
    assert int(gs.numpy()) == 3


def test_bad_arguments():
    with pytest.raises(ValueError, match="one more value than boundaries"):
        train.PiecewiseConstant([1, 2], [1.0])
    with pytest.raises(ValueError, match="decay_steps must be positive"):
        train.CosineDecay(0.1, 0)
