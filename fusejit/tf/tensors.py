"""TensorFlow tensors and attributes ↔ NumPy: ``TensorProto`` decoding/encoding and ``AttrValue`` reading."""

from __future__ import annotations

from typing import Any

import numpy as np

from .proto import TensorProto

NUMPY_OF = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
            10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
DTYPE_OF = {np.dtype(v): k for k, v in NUMPY_OF.items()}
_FIELD = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
          9: "int64_val", 10: "bool_val", 17: "int_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val"}


class TensorDecodeError(ValueError):
    """A TensorProto that does not describe an array (dtype, shape and data disagree)."""


def numpy_dtype(code: int, what: str) -> np.dtype:
    code = code - 100 if code > 100 else code  # reference types
    if code not in NUMPY_OF:
        from .proto import DATA_TYPES

        name = next((k for k, v in DATA_TYPES.items() if v == code), str(code))
        raise TensorDecodeError(f"{what}: dtype {name} is not supported (supported: float16/32/64, "
                                "int8/16/32/64, uint8/16/32/64, bool)")
    return np.dtype(NUMPY_OF[code])


def to_numpy(t: Any, what: str = "tensor") -> np.ndarray:
    dtype = numpy_dtype(t.dtype, what)
    if t.tensor_shape.unknown_rank:
        raise TensorDecodeError(f"{what}: a constant of unknown rank")
    shape = tuple(int(d.size) for d in t.tensor_shape.dim)
    if any(d < 0 for d in shape):
        raise TensorDecodeError(f"{what}: a constant with unknown dims {shape}")
    size = int(np.prod(shape, dtype=np.int64))
    if size > 2**34:
        raise TensorDecodeError(f"{what}: a constant of {size} elements")
    if t.tensor_content:
        if len(t.tensor_content) != size * dtype.itemsize:
            raise TensorDecodeError(f"{what}: tensor_content holds {len(t.tensor_content)} bytes, shape {shape} of "
                                    f"{dtype} needs {size * dtype.itemsize}")
        return np.frombuffer(t.tensor_content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = list(getattr(t, _FIELD[t.dtype % 100 if t.dtype > 100 else t.dtype]))
    raw = np.array(values, dtype=np.uint16).view(np.float16) if dtype == np.float16 else np.array(values, dtype=dtype)
    if raw.size == size:
        return raw.reshape(shape)
    if raw.size == 0:
        return np.zeros(shape, dtype)
    if raw.size < size:  # TensorFlow repeats the last value to fill the shape
        return np.concatenate([raw, np.full(size - raw.size, raw[-1], dtype)]).reshape(shape)
    raise TensorDecodeError(f"{what}: {raw.size} values for shape {shape}")


def from_numpy(value: np.ndarray) -> Any:
    value = np.asarray(value)
    if value.dtype not in DTYPE_OF:
        raise TensorDecodeError(f"cannot store a {value.dtype} constant in a GraphDef")
    t = TensorProto(dtype=DTYPE_OF[value.dtype])
    for d in value.shape:
        t.tensor_shape.dim.add(size=d)
    t.tensor_content = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    return t


def attr_value(node: Any, name: str, default: Any = None) -> Any:
    """The attribute as Python/NumPy: ints, floats, bools, strings, dtypes, shapes, tensors, lists."""
    if name not in node.attr:
        return default
    a = node.attr[name]
    kind = a.WhichOneof("value")
    if kind is None:
        return default
    if kind == "s":
        return a.s.decode()
    if kind in ("i", "f", "b"):
        return getattr(a, kind)
    if kind == "type":
        return a.type
    if kind == "shape":
        return None if a.shape.unknown_rank else [int(d.size) for d in a.shape.dim]
    if kind == "tensor":
        return to_numpy(a.tensor, f"node {node.name!r} attribute {name!r}")
    if kind == "list":
        lv = a.list
        for field in ("i", "f", "b", "s", "type"):
            if len(getattr(lv, field)):
                vals = list(getattr(lv, field))
                return [v.decode() for v in vals] if field == "s" else vals
        if len(lv.shape):
            return [[int(d.size) for d in s.dim] for s in lv.shape]
        return []
    return default


def attr_dtype(node: Any, name: str, default: Any = None) -> np.dtype:
    code = attr_value(node, name)
    if code is None:
        if default is None:
            raise TensorDecodeError(f"node {node.name!r} ({node.op}): missing dtype attribute {name!r}")
        return np.dtype(default)
    return numpy_dtype(code, f"node {node.name!r} attribute {name!r}")


__all__ = ["TensorDecodeError", "attr_dtype", "attr_value", "from_numpy", "numpy_dtype", "to_numpy"]
