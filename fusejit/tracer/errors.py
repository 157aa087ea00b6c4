"""Errors a user sees while tracing: each names what was wrong and what to do instead."""

from __future__ import annotations


class TracingError(TypeError):
    """Base class of errors raised while tracing a function."""


class UnsupportedFunctionError(TracingError):
    """A NumPy function or ufunc with no fusejit translation."""


class ConcretizationError(TracingError):
    """A traced value was needed as a concrete Python value (``if``, ``int()``, ``float()``...)."""


class DataBranchError(ConcretizationError):
    """A Python branch (``if``, ``bool()``, ``int()``) on traced data where the call's data was not
    available to follow it (see :mod:`.speculation`)."""


class DataDependentShapeError(TracingError):
    """An operation whose result shape depends on input values (``x[x > 0]`` escaping)."""


class InPlaceError(TracingError):
    """An in-place update fusejit cannot express faithfully (aliasing views, arguments)."""


class SideEffectError(TracingError):
    """A side effect of a traced function that fusejit cannot replay after each call faithfully
    (printing, I/O, an unsupported container mutation, storing an object created in the trace)."""


class TracerLeakError(TracingError):
    """A traced array used after its trace ended (it escaped into state fusejit did not track)."""


class RetraceWarning(RuntimeWarning):
    """A jitted function keeps retracing because live state it specializes on keeps changing (a
    Python counter on ``self``): correct, but every call compiles anew."""
