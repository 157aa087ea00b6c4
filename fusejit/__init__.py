"""fusejit: a tracing compiler for NumPy code.

Decorate a NumPy function with ``@fusejit.jit``: it is traced into an SSA IR, optimized,
fused and compiled to native kernels, once per input signature.
"""

from .freeze import freeze
from .ir import Graph, GraphFileError
from .ir import load_graph as load
from .jit import ArgumentError, JitFunction, Spec, jit
from .runtime.placement import device
from .tracer.errors import (
                            ConcretizationError,
                            DataDependentShapeError,
                            InPlaceError,
                            TracingError,
                            UnsupportedFunctionError,
)
from .tracer.variables import Variable

__version__ = "0.1.0"

__all__ = [
    "ArgumentError", "ConcretizationError", "DataDependentShapeError", "Graph", "GraphFileError", "InPlaceError",
    "JitFunction", "Spec", "TracingError", "UnsupportedFunctionError", "Variable", "device", "freeze", "jit", "load",
]
