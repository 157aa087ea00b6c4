"""The tracer: abstract arrays that record NumPy operations into a ``Graph``."""

from .array import SymbolicDim, TracedArray
from .errors import ConcretizationError, DataDependentShapeError, InPlaceError, TracingError, UnsupportedFunctionError
from .functions import supported_functions
from .pytree import flatten, unflatten
from .trace import ArgSpec, TraceResult, trace

__all__ = [
    "ArgSpec", "ConcretizationError", "DataDependentShapeError", "InPlaceError", "SymbolicDim", "TraceResult",
    "TracedArray", "TracingError", "UnsupportedFunctionError", "flatten", "supported_functions", "trace",
    "unflatten",
]
