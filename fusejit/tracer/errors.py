"""Errors a user sees while tracing: each names what was wrong and what to do instead."""

from __future__ import annotations


class TracingError(TypeError):
    """Base class of errors raised while tracing a function."""


class UnsupportedFunctionError(TracingError):
    """A NumPy function or ufunc with no fusejit translation."""


class ConcretizationError(TracingError):
    """A traced value was needed as a concrete Python value (``if``, ``int()``, ``float()``...)."""


class DataDependentShapeError(TracingError):
    """An operation whose result shape depends on input values (``x[x > 0]`` escaping)."""


class InPlaceError(TracingError):
    """An in-place update fusejit cannot express faithfully (aliasing views, arguments)."""
