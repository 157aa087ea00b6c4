"""The dtypes fusejit compiles, and their short names in IR text (``f32``, ``i64``, ``bool``)."""

from __future__ import annotations

import numpy as np

SHORT_NAMES: dict[np.dtype, str] = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int8): "i8",
    np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32",
    np.dtype(np.int64): "i64",
    np.dtype(np.uint8): "u8",
    np.dtype(np.uint16): "u16",
    np.dtype(np.uint32): "u32",
    np.dtype(np.uint64): "u64",
    np.dtype(np.float16): "f16",
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
}
BY_SHORT_NAME: dict[str, np.dtype] = {v: k for k, v in SHORT_NAMES.items()}

BOOL = np.dtype(np.bool_)
INT64 = np.dtype(np.int64)
FLOAT64 = np.dtype(np.float64)


class UnsupportedDTypeError(TypeError):
    """A dtype fusejit cannot compile (object, complex, strings, datetimes, ...)."""


def as_dtype(obj: object, what: str = "value") -> np.dtype:
    """Canonical NumPy dtype for ``obj``; a clear error for dtypes we do not support."""
    try:
        dt = np.dtype(obj)  # type: ignore[call-overload]
    except TypeError as exc:
        raise UnsupportedDTypeError(f"{what}: {obj!r} is not a dtype") from exc
    if dt.byteorder == ">":
        dt = dt.newbyteorder("=")
    dt = np.dtype(dt.str.replace("<", "=").replace(">", "="))
    if dt not in SHORT_NAMES:
        raise UnsupportedDTypeError(
            f"{what} has dtype {dt} which fusejit does not support; supported dtypes are "
            + ", ".join(str(d) for d in SHORT_NAMES)
        )
    return dt


def short_name(dt: np.dtype) -> str:
    return SHORT_NAMES[np.dtype(dt)]


def parse_dtype(name: str) -> np.dtype:
    try:
        return BY_SHORT_NAME[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; expected one of {', '.join(BY_SHORT_NAME)}") from None


def is_float(dt: np.dtype) -> bool:
    return dt.kind == "f"


def is_int(dt: np.dtype) -> bool:
    return dt.kind in "iu"


def is_bool(dt: np.dtype) -> bool:
    return dt.kind == "b"
