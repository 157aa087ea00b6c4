"""Optimizers with TensorFlow's (Keras's) update formulas, whose steps compile into one program.

Each optimizer keeps its state in ``fusejit.Variable``s: the learning rate (unless it is a
schedule), the step counter ``iterations`` and one set of slots per trained variable (moments,
accumulators), created on first use. ``apply_gradients`` inside ``@fusejit.jit`` is a series of
``assign``s, so every parameter and slot update of a step is part of the one compiled program: the
elementwise updates fuse with each other and with the gradient's last ops, and the program writes
its results straight into the Variables' buffers. Outside jit the same code runs in NumPy.

Formulas (``t`` = ``iterations + 1``, ``g`` the gradient, ``lr`` the learning rate at ``iterations``):

* ``GradientDescent``: ``w -= lr·g``.
* ``Momentum`` (TF1 ``MomentumOptimizer`` = PyTorch SGD without dampening): ``a = μ·a + g``;
  ``w -= lr·a``, Nesterov ``w -= lr·(g + μ·a)``. (Keras's SGD keeps ``v = μ·v − lr·g`` instead;
  it differs only when the learning rate changes.)
* ``Adam``: ``m += (g − m)(1 − β1)``, ``v += (g² − v)(1 − β2)``,
  ``w -= lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m/(√v + ε)``. PyTorch adds ε to the bias-corrected
  ``√v̂`` instead, i.e. its ε equals TensorFlow's ``ε/√(1 − β2ᵗ)``; defaults ε = 1e-7 (Keras;
  TF1 1e-8, PyTorch 1e-8).
* ``AdamW``: ``w -= lr·λ·w`` first (decoupled decay), then Adam. PyTorch's AdamW is
  ``w *= 1 − lr·λ`` (the same) with its ε placement; default λ = 0.004 (Keras; PyTorch 0.01).
* ``RMSProp``: ``s = ρ·s + (1 − ρ)g²`` (centered: also ``ḡ = ρ·ḡ + (1 − ρ)g``, ``s − ḡ²``
  below), ``Δ = lr·g/√(s + ε)``; momentum ``p = μ·p + Δ, w -= p``, else ``w -= Δ``. ε is inside
  the square root (TensorFlow); PyTorch adds it to ``√s`` and defaults ρ = 0.99; TF1 started ``s``
  at ones, Keras and PyTorch at zeros (so do we).
* ``Adagrad``: ``a += g²``, ``w -= lr·g/√(a + ε)``, ``a`` starting at 0.1 (Keras; PyTorch: 0 and
  ε outside the root).

Step-dependent factors (``β1ᵗ``, schedules) are computed in float64 and cast to the variable's
dtype once, so a float32 model updates in float32 arithmetic, as TensorFlow does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..autodiff import GradientTape
from ..tracer.context import current, tracing
from ..tracer.variables import Variable
from .schedules import LearningRateSchedule


class OptimizerError(ValueError):
    """A gradient, variable or hyperparameter an optimizer cannot use (the message says which)."""


def make_variable(value: Any, name: str, dtype: Any = None) -> Variable:
    """A Variable created even while a trace is running: optimizer slots are created at the first
    trace of a step and outlive it (they are stored on the optimizer and found again when the step
    retraces), which is what the in-trace refusal of ``Variable`` protects against."""
    with tracing(None):  # type: ignore[arg-type]
        return Variable(value, name=name, dtype=dtype)


class Optimizer:
    """Base class: ``minimize``, ``compute_gradients``, ``apply_gradients``; subclasses define
    ``_slots`` (slot name -> initial fill value) and ``_update(var, grad, slots, lr, t)``."""

    _slot_init: dict[str, float] = {}
    _frozen = False

    def __init__(self, learning_rate: Any, name: str, **hyper: float) -> None:
        self.name = name
        if isinstance(learning_rate, (Variable, LearningRateSchedule)) or callable(learning_rate):
            self._lr: Any = learning_rate
        else:
            if not np.isscalar(learning_rate) or not np.isreal(learning_rate):
                raise OptimizerError(f"{name}: learning_rate must be a number, a schedule or a callable, got "
                                     f"{type(learning_rate).__name__}")
            self._lr = make_variable(np.float32(learning_rate), f"{name}/learning_rate")
        for key, value in hyper.items():
            if not isinstance(value, (bool, int, float)):
                raise OptimizerError(f"{name}: {key} must be a Python number or bool, got {type(value).__name__}")
        self.hyper = dict(hyper)
        self.iterations = make_variable(np.int64(0), f"{name}/iterations")
        self._slots: dict[int, tuple[Variable, dict[str, Variable]]] = {}
        self._slot_lock = threading.Lock()  # two threads tracing steps at once create one set of slots
        self._frozen = True

    def __setattr__(self, key: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(
                f"{type(self).__name__}.{key} cannot be changed: the hyperparameters are compiled into the steps "
                "that use this optimizer. Change the learning rate with opt.learning_rate.assign(value) (a "
                "Variable, read at every call), or create a new optimizer")
        object.__setattr__(self, key, value)

    def __getattr__(self, key: str) -> Any:
        hyper = self.__dict__.get("hyper", {})
        if key in hyper:
            return hyper[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    @property
    def learning_rate(self) -> Any:
        """The learning-rate Variable (``opt.learning_rate.assign(1e-4)``), or the schedule/callable."""
        return self._lr

    def current_learning_rate(self) -> Any:
        """The learning rate of the step about to be applied: the Variable's value, the schedule
        at ``iterations``, or the zero-argument callable's result."""
        if isinstance(self._lr, Variable):
            return self._lr.read()
        if isinstance(self._lr, LearningRateSchedule):
            return self._lr(self.iterations.read())
        return self._lr()

    # ---- state ---------------------------------------------------------------------------------

    def slots(self, var: Variable) -> dict[str, Variable]:
        """The slot Variables of ``var`` (created, filled with their initial value, on first use)."""
        with self._slot_lock:
            entry = self._slots.get(id(var))
            if entry is None:
                made = {s: make_variable(np.full(var.shape, fill, dtype=var.dtype), f"{var.name}/{self.name}/{s}")
                        for s, fill in self._slot_init_for().items()}
                entry = self._slots[id(var)] = (var, made)
            return entry[1]

    def _slot_init_for(self) -> dict[str, float]:
        return dict(self._slot_init)

    def variables(self) -> dict[str, Variable]:
        """This optimizer's state by role: ``iterations``, ``learning_rate`` (when a Variable) and
        ``<slot>/<var.name>`` for every slot created so far."""
        out = {"iterations": self.iterations}
        if isinstance(self._lr, Variable):
            out["learning_rate"] = self._lr
        for var, slots in self._slots.values():
            for s, v in slots.items():
                out[f"{s}/{var.name}"] = v
        return out

    def slot_items(self) -> list[tuple[Variable, str, Variable]]:
        """``(trained variable, slot name, slot Variable)`` for every slot created so far."""
        return [(var, s, v) for var, slots in self._slots.values() for s, v in slots.items()]

    # ---- the TF API ----------------------------------------------------------------------------

    def compute_gradients(self, loss: Callable[[], Any], var_list: Sequence[Variable]) -> list[tuple[Any, Variable]]:
        """``[(gradient, variable), ...]`` of ``loss()`` (inside ``@fusejit.jit``)."""
        return self._loss_and_gradients(loss, var_list)[1]

    def _loss_and_gradients(self, loss: Callable[[], Any], var_list: Sequence[Variable]) -> tuple[Any, list]:
        if current() is None:
            raise OptimizerError(f"{self.name}.compute_gradients runs inside a @fusejit.jit function (the gradient is "
                                 "part of the compiled step); outside jit use minimize(), or fusejit.grad")
        if not callable(loss):
            raise OptimizerError(f"{self.name}: loss must be a zero-argument callable computing the loss (it is "
                                 f"recorded on a GradientTape), got {type(loss).__name__}")
        var_list = _check_vars(self.name, var_list)
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(var_list)
            value = loss()
        grads = tape.gradient(value, var_list)
        return value, list(zip(grads, var_list))

    def minimize(self, loss: Callable[[], Any], var_list: Sequence[Variable],
                 global_step: Variable | None = None) -> Any:
        """Compute the gradients of ``loss()`` with respect to ``var_list``, apply them, and return
        the loss (its value before the update). Inside ``@fusejit.jit`` this is part of the compiled
        step; outside it compiles a step for this call (put the call in a jitted function to
        compile once)."""
        if current() is None:
            from ..driver import jit

            return jit(lambda: self.minimize(loss, var_list, global_step))()
        value, pairs = self._loss_and_gradients(loss, var_list)
        self.apply_gradients(pairs, global_step=global_step)
        return value

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Variable]],
                        global_step: Variable | None = None) -> Variable:
        """Update each variable from its gradient (pairs with a ``None`` gradient are skipped, as in
        TensorFlow), then add 1 to ``iterations`` (and to ``global_step`` if given). Returns
        ``iterations``."""
        pairs = [(g, v) for g, v in grads_and_vars]
        for i, (g, v) in enumerate(pairs):
            if not isinstance(v, Variable):
                raise OptimizerError(f"{self.name}.apply_gradients: pair {i} holds a {type(v).__name__}, not a "
                                     "fusejit.Variable")
            if not np.issubdtype(v.dtype, np.floating):
                raise OptimizerError(f"{self.name}.apply_gradients: Variable {v.name!r} is {v.dtype}; only float "
                                     "variables can be trained")
            if g is not None and tuple(np.shape(g)) != v.shape:
                raise OptimizerError(f"{self.name}.apply_gradients: the gradient for Variable {v.name!r} has shape "
                                     f"{tuple(np.shape(g))}, expected the variable's {v.shape}")
        live = [(g, v) for g, v in pairs if g is not None]
        if not live:
            raise OptimizerError(f"{self.name}.apply_gradients: no gradients provided for any variable "
                                 f"({', '.join(repr(v.name) for _, v in pairs) or 'empty list'})")
        lr = self.current_learning_rate()
        t = self.iterations.read() + 1
        for g, v in live:
            dt = v.dtype.type
            self._update(v, np.asarray(g, dtype=v.dtype) if current() is None else g.astype(v.dtype),
                         self.slots(v), _cast(lr, dt), t, dt)
        self.iterations.assign_add(1)
        if global_step is not None:
            global_step.assign_add(1)
        return self.iterations

    def _update(self, var: Variable, g: Any, slots: dict[str, Variable], lr: Any, t: Any, dt: type) -> None:
        raise NotImplementedError


def _cast(x: Any, dt: type) -> Any:
    """``x`` (a number, NumPy or traced scalar) as a scalar of dtype ``dt``."""
    return np.asarray(x).astype(dt) if current() is None else (x.astype(dt) if hasattr(x, "astype") else dt(x))


def _power(base: float, t: Any, dt: type) -> Any:
    """``base**t`` for the integer step ``t``, in float64, as dtype ``dt``."""
    return _cast(np.float64(base) ** t.astype(np.float64), dt)


def _check_vars(name: str, var_list: Any) -> list[Variable]:
    if isinstance(var_list, Variable):
        var_list = [var_list]
    var_list = list(var_list)
    if not var_list:
        raise OptimizerError(f"{name}: var_list is empty")
    for i, v in enumerate(var_list):
        if not isinstance(v, Variable):
            raise OptimizerError(f"{name}: var_list[{i}] is a {type(v).__name__}, not a fusejit.Variable")
    return var_list


class GradientDescent(Optimizer):
    def __init__(self, learning_rate: Any = 0.01, name: str = "GradientDescent") -> None:
        super().__init__(learning_rate, name)

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        var.assign_sub(lr * g)


class Momentum(Optimizer):
    _slot_init = {"momentum": 0.0}

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.9, nesterov: bool = False,
                 name: str = "Momentum") -> None:
        super().__init__(learning_rate, name, momentum=momentum, nesterov=nesterov)

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        mu = dt(self.hyper["momentum"])
        accum = slots["momentum"].assign(mu * slots["momentum"].read() + g).read()
        var.assign_sub(lr * (g + mu * accum) if self.hyper["nesterov"] else lr * accum)


class Adam(Optimizer):
    _slot_init = {"m": 0.0, "v": 0.0}

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, name: str = "Adam", **extra: float) -> None:
        super().__init__(learning_rate, name, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **extra)

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        b1, b2, eps = self.hyper["beta_1"], self.hyper["beta_2"], dt(self.hyper["epsilon"])
        alpha = lr * np.sqrt(dt(1) - _power(b2, t, dt)) / (dt(1) - _power(b1, t, dt))
        m, v = slots["m"], slots["v"]
        m_new = m.assign_add((g - m.read()) * dt(1 - b1)).read()
        v_new = v.assign_add((g * g - v.read()) * dt(1 - b2)).read()
        var.assign_sub(alpha * m_new / (np.sqrt(v_new) + eps))


class AdamW(Adam):
    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, name: str = "AdamW") -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, weight_decay=weight_decay)

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        var.assign_sub(var.read() * (lr * dt(self.hyper["weight_decay"])))
        super()._update(var, g, slots, lr, t, dt)


class RMSProp(Optimizer):
    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, name: str = "RMSProp") -> None:
        super().__init__(learning_rate, name, rho=rho, momentum=momentum, epsilon=epsilon, centered=centered)

    def _slot_init_for(self) -> dict[str, float]:
        names = ["rms"] + ["mg"] * bool(self.hyper["centered"]) + ["momentum"] * bool(self.hyper["momentum"])
        return dict.fromkeys(names, 0.0)

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        rho, eps = dt(self.hyper["rho"]), dt(self.hyper["epsilon"])
        denom = slots["rms"].assign(rho * slots["rms"].read() + (dt(1) - rho) * (g * g)).read()
        if "mg" in slots:
            mg = slots["mg"].assign(rho * slots["mg"].read() + (dt(1) - rho) * g).read()
            denom = denom - mg * mg
        step = lr * g / np.sqrt(denom + eps)
        if "momentum" in slots:
            step = slots["momentum"].assign(dt(self.hyper["momentum"]) * slots["momentum"].read() + step).read()
        var.assign_sub(step)


class Adagrad(Optimizer):
    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 name: str = "Adagrad") -> None:
        super().__init__(learning_rate, name, initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)

    def _slot_init_for(self) -> dict[str, float]:
        return {"accumulator": self.hyper["initial_accumulator_value"]}

    def _update(self, var: Variable, g: Any, slots: dict, lr: Any, t: Any, dt: type) -> None:
        acc = slots["accumulator"].assign_add(g * g).read()
        var.assign_sub(lr * g / np.sqrt(acc + dt(self.hyper["epsilon"])))
