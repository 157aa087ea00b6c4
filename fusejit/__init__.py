"""fusejit: a tracing compiler for NumPy code.

Decorate a NumPy function with ``@fusejit.jit``: it is traced into an SSA IR, optimized,
fused and compiled to native kernels, once per input signature.

Names are imported on first use, so the serving path (``fusejit.aot.load``) loads neither the
tracer nor llvmlite.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "jit": "fusejit.driver", "JitFunction": "fusejit.driver", "Spec": "fusejit.driver",
    "ArgumentError": "fusejit.driver", "AxisError": "fusejit.ir.shapes",
    "freeze": "fusejit.freezing", "Variable": "fusejit.tracer.variables", "device": "fusejit.runtime.placement",
    "Graph": "fusejit.ir", "GraphFileError": "fusejit.ir", "load": ("fusejit.ir", "load_graph"),
    "TracingError": "fusejit.tracer.errors", "ConcretizationError": "fusejit.tracer.errors",
    "DataDependentShapeError": "fusejit.tracer.errors", "InPlaceError": "fusejit.tracer.errors",
    "UnsupportedFunctionError": "fusejit.tracer.errors",
    "grad": "fusejit.autodiff", "value_and_grad": "fusejit.autodiff", "vjp": "fusejit.autodiff",
    "jvp": "fusejit.autodiff", "jacobian": "fusejit.autodiff", "hessian": "fusejit.autodiff",
    "stop_gradient": "fusejit.autodiff", "GradientError": "fusejit.ir.registry",
    "GradientTape": "fusejit.autodiff", "custom_vjp": "fusejit.autodiff", "custom_jvp": "fusejit.autodiff",
    "SideEffectError": "fusejit.tracer.errors", "TracerLeakError": "fusejit.tracer.errors",
    "RetraceWarning": "fusejit.tracer.errors",
    "profile": "fusejit.profiler", "profile_summary": "fusejit.profiler",
    "cond": "fusejit.control", "switch": "fusejit.control", "fori_loop": "fusejit.control",
    "while_loop": "fusejit.control", "scan": "fusejit.control",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        try:
            return importlib.import_module(f"{__name__}.{name}")  # subpackages: fusejit.ir, fusejit.aot, ...
        except ModuleNotFoundError:
            raise AttributeError(f"module 'fusejit' has no attribute {name!r}") from None
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
