"""Integer comparisons exactly as NumPy 2 makes them, whatever the signedness and size.

NumPy 2 compares ``uint64`` with ``int64`` (its ``qQ``/``Qq`` loops) and integer arrays with
Python ints outside their dtype's range without converting either side to float64, so
``np.uint64(2**64 - 1) < 2**64`` is True and ``uint64 >= -1`` is True everywhere. With ``s`` the
signed and ``u`` the unsigned side (both widened to 64 bits)::

    op(u, s) = where(s < 0, op(0, -1), op(u, uint64(s)))       u >= 0 > s decides every lane
    op(x, V) = op(0, V)                                          V outside [-2**63, 2**64)

(the second because every 64-bit integer ``x`` lies on the same side of such a ``V`` as 0).
Both are exact: ``uint64(s)`` is only compared where ``s >= 0``, where it is ``s``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..ir import constant, make
from .array import Operand, TracedArray, Weak, broadcast, cast
from .ufuncs import elementwise

I64, U64, BOOL = np.dtype(np.int64), np.dtype(np.uint64), np.dtype(bool)
PYTHON_OP = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
             "ge": operator.ge}


def needs_exact_compare(operands: list[Operand], loop: tuple[np.dtype, ...]) -> bool:
    """Would NumPy's loop ``loop`` mix signedness, or a Python int fall outside its dtype?"""
    if loop[0].kind not in "iu":
        return False
    if loop[0] != loop[1]:
        return True
    info = np.iinfo(loop[0])
    return any(isinstance(o, Weak) and type(o.value) is int and not info.min <= o.value <= info.max
               for o in operands)


def compare_exactly(prim: str, operands: list[Operand], what: str) -> TracedArray:
    """``prim`` (eq, ne, lt, le, gt, ge) of integer operands, exactly (module docstring)."""
    py = PYTHON_OP[prim]
    loop = []
    for o in operands:
        if isinstance(o, Weak):
            v = int(o.value)
            if not -2**63 <= v < 2**64:  # every lane compares as 0 does
                answer = constant(np.array(py(0, v) if o is operands[1] else py(v, 0)))
                others = [x if x is not o else Weak(0) for x in operands]
                return elementwise(lambda a, b, c=answer: broadcast(c, a.shape), others, (I64, I64, BOOL), what)
            loop.append(I64 if v < 2**63 else U64)
        else:
            loop.append(I64 if o.dtype.kind == "i" else U64)
    return elementwise(lambda a, b: _mixed(prim, a, b), operands, (*loop, BOOL), what)


def _mixed(prim: str, a: Any, b: Any) -> Any:
    if a.dtype == b.dtype:
        return make(prim, a, b)
    signed_first = a.dtype == I64
    s = a if signed_first else b
    negative = make("lt", s, broadcast(constant(np.array(0, I64)), s.shape))
    unsigned = [cast(a, U64), b] if signed_first else [a, cast(b, U64)]
    when_negative = PYTHON_OP[prim](-1, 0) if signed_first else PYTHON_OP[prim](0, -1)
    return make("where", negative, broadcast(constant(np.array(when_negative)), s.shape), make(prim, *unsigned))
