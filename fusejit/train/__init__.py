"""``fusejit.train``: optimizers, gradient clipping, learning-rate schedules, initializers and
checkpoints for training loops whose every step is one compiled program (see README "Training")."""

from __future__ import annotations

from . import initializers
from .checkpoint import Checkpoint, CheckpointError, CheckpointNotFoundError, latest_checkpoint
from .clipping import clip_by_average_norm, clip_by_global_norm, clip_by_norm, clip_by_value, global_norm
from .optimizers import Adagrad, Adam, AdamW, GradientDescent, Momentum, Optimizer, OptimizerError, RMSProp
from .schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    LinearWarmup,
    PiecewiseConstant,
    cosine_decay,
    exponential_decay,
    linear_warmup,
    piecewise_constant,
)

__all__ = ["Adagrad", "Adam", "AdamW", "Checkpoint", "CheckpointError", "CheckpointNotFoundError", "CosineDecay",
           "ExponentialDecay", "GradientDescent", "LearningRateSchedule", "LinearWarmup", "Momentum",
           "Optimizer", "OptimizerError", "PiecewiseConstant", "RMSProp", "clip_by_average_norm",
           "clip_by_global_norm", "clip_by_norm", "clip_by_value", "cosine_decay", "exponential_decay",
           "global_norm", "initializers", "latest_checkpoint", "linear_warmup", "piecewise_constant"]
