"""fusejit: a tracing compiler for NumPy code.

Decorate a NumPy function with ``@fusejit.jit``: it is traced into an SSA IR, optimized,
fused and compiled to native kernels, once per input signature.
"""

from .ir import Graph
from .jit import ArgumentError, JitFunction, Spec, jit
from .runtime.placement import device
from .tracer.errors import (
                            ConcretizationError,
                            DataDependentShapeError,
                            InPlaceError,
                            TracingError,
                            UnsupportedFunctionError,
)

__version__ = "0.1.0"

__all__ = [
    "ArgumentError", "ConcretizationError", "DataDependentShapeError", "Graph", "InPlaceError", "JitFunction",
    "Spec", "TracingError", "UnsupportedFunctionError", "device", "jit",
]
