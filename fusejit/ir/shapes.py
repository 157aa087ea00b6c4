"""Shapes whose dims are ints or named symbols (``f32[N,784]``), and the arithmetic on them.

A symbolic dim is a plain ``str`` naming a size known only at run time. Products of dims are
kept as *monomials* (a static factor times a multiset of symbols), which is exactly what
reshape and element counts need: ``[N,28,28] -> [N,784]`` is provably size-preserving.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

Dim = int | str
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class TensorType:
    dtype: np.dtype
    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    def __str__(self) -> str:
        from .dtypes import short_name

        return f"{short_name(self.dtype)}[{','.join(str(d) for d in self.shape)}]"


def symbols(shape: Shape) -> list[str]:
    return [d for d in shape if isinstance(d, str)]


@dataclass(frozen=True)
class Size:
    """An element count: ``factor * prod(symbols)``."""

    factor: int
    syms: tuple[str, ...]

    @staticmethod
    def of(dims: Iterable[Dim]) -> Size:
        factor, syms = 1, []
        for d in dims:
            if isinstance(d, str):
                syms.append(d)
            else:
                factor *= d
        return Size(factor, tuple(sorted(syms)))

    def divide(self, other: Size) -> Size | None:
        """``self / other`` if it is a monomial, else None."""
        have = Counter(self.syms)
        have.subtract(other.syms)
        if any(v < 0 for v in have.values()):
            return None
        if other.factor == 0 or self.factor % other.factor:
            return None
        return Size(self.factor // other.factor, tuple(sorted(have.elements())))

    def as_dim(self) -> Dim | None:
        if not self.syms:
            return self.factor
        if self.factor == 1 and len(self.syms) == 1:
            return self.syms[0]
        return None


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy broadcasting over int-or-symbol dims; a symbol broadcasts only with 1 or itself."""
    ndim = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for i in range(ndim):
        dims = [s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0]
        chosen: Dim = 1
        for d in dims:
            if d == 1 or d == chosen:
                continue
            if chosen == 1:
                chosen = d
            else:
                raise ValueError(
                    "shapes " + ", ".join(format_shape(s) for s in shapes) + " cannot be broadcast together"
                )
        out.append(chosen)
    return tuple(out)


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class AxisError(np.exceptions.AxisError):
    """An axis out of bounds: NumPy's own error class (``except np.exceptions.AxisError`` and
    ``except ValueError`` catch it as they would NumPy's), raised by fusejit with NumPy's text."""


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    """``axis`` in ``range(ndim)`` (NumPy's ``normalize_axis_index``: a 0-d array has no axis; the
    functions NumPy lets take axis 0 of one handle that themselves)."""
    if not -ndim <= axis < ndim:
        raise AxisError(f"{what} {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim
