"""Learning-rate schedules: functions of the step, evaluated inside the compiled step.

A schedule object (Keras style) is given to an optimizer as its ``learning_rate`` and called with
the optimizer's ``iterations`` Variable at every step; the TF1 functions (``exponential_decay(lr,
global_step, ...)``) evaluate the same formulas at a step you pass (a Variable, an array or an int).
Inside ``@fusejit.jit`` the step is a traced value read from its Variable, so the schedule is part
of the program and advances without retracing. Values are float64; optimizers cast them to each
variable's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tracer.variables import Variable


def _step(step: Any) -> Any:
    """The step as a float64 scalar (traced inside jit)."""
    if isinstance(step, Variable):
        step = step.read()
    return np.asarray(step).astype(np.float64) if not hasattr(step, "astype") else step.astype(np.float64)


class LearningRateSchedule:
    """``schedule(step)`` -> the learning rate at ``step`` (float64)."""

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """``lr · rate^(step / decay_steps)`` (``staircase``: the exponent floored)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be positive, got {decay_steps}")
        self.initial, self.decay_steps = initial_learning_rate, decay_steps
        self.rate, self.staircase = decay_rate, staircase

    def __call__(self, step: Any) -> Any:
        p = _step(step) / np.float64(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return np.float64(self.initial) * np.float64(self.rate) ** p


class PiecewiseConstant(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <=
    boundaries[i]``, ``values[-1]`` after the last boundary (TensorFlow's convention)."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstant: {len(values)} values for {len(boundaries)} boundaries; expected "
                             f"{len(boundaries) + 1} (one more value than boundaries)")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"PiecewiseConstant: boundaries must be increasing, got {list(boundaries)}")
        self.boundaries, self.values = list(boundaries), list(values)

    def __call__(self, step: Any) -> Any:
        x = _step(step)
        out = np.float64(self.values[-1]) + x * 0.0
        for b, v in zip(reversed(self.boundaries), reversed(self.values[:-1])):
            out = np.where(x <= b, np.float64(v), out)
        return out


class CosineDecay(LearningRateSchedule):
    """``lr · ((1 − alpha)·½(1 + cos(π·min(step, decay_steps)/decay_steps)) + alpha)``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0) -> None:
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be positive, got {decay_steps}")
        self.initial, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha

    def __call__(self, step: Any) -> Any:
        frac = np.minimum(_step(step), np.float64(self.decay_steps)) / np.float64(self.decay_steps)
        cosine = 0.5 * (1.0 + np.cos(np.pi * frac))
        return np.float64(self.initial) * ((1.0 - self.alpha) * cosine + self.alpha)


class LinearWarmup(LearningRateSchedule):
    """Rise linearly from ``initial`` to ``after``'s first value over ``warmup_steps`` steps, then
    follow ``after`` (a schedule, evaluated at ``step − warmup_steps``, or a constant)."""

    def __init__(self, after: LearningRateSchedule | float, warmup_steps: int, initial: float = 0.0) -> None:
        if warmup_steps <= 0:
            raise ValueError(f"LinearWarmup: warmup_steps must be positive, got {warmup_steps}")
        self.after, self.warmup_steps, self.initial = after, warmup_steps, initial

    def _after(self, step: Any) -> Any:
        return self.after(step) if isinstance(self.after, LearningRateSchedule) else np.float64(self.after) + step * 0.0

    def __call__(self, step: Any) -> Any:
        x = _step(step)
        w = np.float64(self.warmup_steps)
        peak = self._after(x * 0.0)
        warm = np.float64(self.initial) + (peak - np.float64(self.initial)) * (x / w)
        return np.where(x < w, warm, self._after(np.maximum(x - w, 0.0)))


def exponential_decay(learning_rate: float, global_step: Any, decay_steps: int, decay_rate: float,
                      staircase: bool = False) -> Any:
    """TF1's ``tf.train.exponential_decay``: the rate at ``global_step``."""
    return ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase)(global_step)


def piecewise_constant(x: Any, boundaries: Sequence[float], values: Sequence[float]) -> Any:
    """TF1's ``tf.train.piecewise_constant``."""
    return PiecewiseConstant(boundaries, values)(x)


def cosine_decay(learning_rate: float, global_step: Any, decay_steps: int, alpha: float = 0.0) -> Any:
    """TF1's ``tf.train.cosine_decay``."""
    return CosineDecay(learning_rate, decay_steps, alpha)(global_step)


def linear_warmup(after: LearningRateSchedule | float, global_step: Any, warmup_steps: int,
                  initial: float = 0.0) -> Any:
    """:class:`LinearWarmup` evaluated at ``global_step``."""
    return LinearWarmup(after, warmup_steps, initial)(global_step)
