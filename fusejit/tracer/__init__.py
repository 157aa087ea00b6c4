"""The tracer: abstract arrays that record NumPy operations into a ``Graph``."""

from .array import SymbolicDim, TracedArray
from .errors import (
    ConcretizationError,
    DataDependentShapeError,
    InPlaceError,
    SideEffectError,
    TracerLeakError,
    TracingError,
    UnsupportedFunctionError,
)
from .functions import supported_functions
from .pytree import flatten, unflatten
from .trace import ArgSpec, TraceResult, trace

__all__ = [
    "ArgSpec", "ConcretizationError", "DataDependentShapeError", "InPlaceError", "SideEffectError", "SymbolicDim",
    "TraceResult", "TracedArray", "TracerLeakError", "TracingError", "UnsupportedFunctionError", "flatten",
    "supported_functions", "trace", "unflatten",
]
