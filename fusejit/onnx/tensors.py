"""ONNX element types → NumPy dtypes (the ones fusejit computes with)."""

from __future__ import annotations

import numpy as np

from .ops import OnnxImportError

_NUMPY = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def numpy_dtype(elem_type: int, what: str) -> np.dtype:
    if elem_type not in _NUMPY:
        import onnx

        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() \
            else str(elem_type)
        raise OnnxImportError(f"{what}: element type {name} is not supported (float16/32/64, int8-64, "
                              "uint8-64, bool)")
    return np.dtype(_NUMPY[elem_type])


__all__ = ["numpy_dtype"]
