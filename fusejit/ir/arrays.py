"""Which NumPy array objects a program computes on: ndarrays and subclasses that only add
behaviour around the same data (``np.memmap``).

Two subclasses change what NumPy computes, so reading their data as a plain array would give an
answer NumPy does not: a masked array (``np.ma``), whose reductions and ufuncs skip masked
elements, and ``np.matrix``, whose ``*`` and ``**`` are matrix products and whose results stay
2-d. They are refused with the fix spelled out, never converted silently. Arrays in the other byte
order (``>f4`` on x86) are values like any other: they are converted once, at the boundary.
"""

from __future__ import annotations

import numpy as np


def semantic_subclass_problem(value: object) -> str | None:
    """Why ``value`` cannot be computed on as a plain array, or None if it can."""
    if isinstance(value, np.ma.MaskedArray):
        return ("is a numpy.ma.MaskedArray; fusejit computes on plain arrays and would ignore its mask "
                "(NumPy's masked functions skip masked elements). Pass `x.filled(value)` with the fill value "
                "you mean, or `np.ma.getdata(x)` to drop the mask knowingly")
    if isinstance(value, np.matrix):
        return ("is a numpy.matrix, whose `*` and `**` are matrix products and whose results stay 2-d; "
                "fusejit computes with ndarray semantics. Pass `np.asarray(x)`")
    return None


def native_byte_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` with the machine's byte order (a copy only when it is byte-swapped, ``>f4``)."""
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
