"""LLVM types for fusejit dtypes: register types (bool is ``i1``) and memory types (bool is ``i8``)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()


def reg_type(dt: np.dtype) -> ir.Type:
    """The type a value of ``dt`` has in registers."""
    if dt.kind == "b":
        return I1
    if dt.kind == "f":
        return {2: F16, 4: F32, 8: F64}[dt.itemsize]
    return ir.IntType(8 * dt.itemsize)


def mem_type(dt: np.dtype) -> ir.Type:
    """The type a value of ``dt`` has in memory (NumPy's layout)."""
    return I8 if dt.kind == "b" else reg_type(dt)


def i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)
