"""``fusejit.aot.load``: call an AOT-compiled library from Python through ctypes — the serving path.

Only the standard library, NumPy and the ``<name>.json`` manifest are used: no IR, no tracer,
no LLVM. Calls release the GIL (ctypes does), and the library is thread-safe, so one loaded
model can serve several threads.
"""

from __future__ import annotations

import ctypes
import operator
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .signature import Signature


def _data_pointer_reader() -> Any:
    """The fastest way to get an ndarray's data address: read ``PyArrayObject.data`` (offset 16,
    NumPy's stable ABI) after checking it on a probe array; ``__array_interface__`` otherwise."""
    probe = np.arange(3.0)
    try:
        if ctypes.c_void_p.from_address(id(probe) + 16).value == probe.__array_interface__["data"][0]:
            return lambda a: ctypes.c_void_p.from_address(id(a) + 16).value
    except (ValueError, OverflowError):  # pragma: no cover - a Python without id() == address
        pass
    return lambda a: a.__array_interface__["data"][0]  # pragma: no cover


_data = _data_pointer_reader()


def _getter(indices: list[int]) -> Any:
    """``values -> tuple(values[i] for i in indices)``, as fast as Python allows."""
    if not indices:
        return lambda values: ()
    if len(indices) == 1:
        one = operator.itemgetter(indices[0])
        return lambda values: (one(values),)
    return operator.itemgetter(*indices)


_loaded: dict[str, tuple[int, int, int]] = {}  # path -> (inode, mtime, size) of the library dlopen'ed there
_loaded_lock = threading.Lock()


def _dlopen(path: Path) -> ctypes.CDLL:
    """``ctypes.CDLL(path)``, except that a library rebuilt at a path already loaded in this process
    is really loaded: dlopen would return the old one (it matches by name), so the new file is
    opened through a private copy, unlinked at once (the mapping stays)."""
    st = path.stat()
    key, name = (st.st_ino, st.st_mtime_ns, st.st_size), str(path.resolve())
    with _loaded_lock:
        if _loaded.setdefault(name, key) == key:
            return ctypes.CDLL(name)
    fd, copy = tempfile.mkstemp(suffix=".so", prefix=path.stem + "-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(path.read_bytes())
        return ctypes.CDLL(copy)
    finally:
        os.unlink(copy)


class AotCallError(ValueError):
    """Arguments that do not fit the compiled signature, or a failed call (the message says which)."""


class AotModel:
    """A loaded library: ``model(*inputs)`` returns the outputs (a list if there are several)."""

    def __init__(self, directory: Path, sig: Signature) -> None:
        self.signature = sig
        self.path = directory / f"lib{sig.name}.so"
        self._lib = _dlopen(self.path)
        self._message = getattr(self._lib, f"{sig.name}_status_message")
        self._message.argtypes = [ctypes.c_int]
        self._message.restype = ctypes.c_char_p
        self._shape = getattr(self._lib, f"{sig.name}_output_shape")
        self._shape.argtypes = [ctypes.c_int64] * len(sig.dims) + [ctypes.c_int, ctypes.POINTER(ctypes.c_int64)]
        self._shape.restype = ctypes.c_int
        self._run_typed = getattr(self._lib, f"{sig.name}_run")  # pointers pass as ints: no arrays to build
        self._run_typed.argtypes = [ctypes.c_int64] * len(sig.dims) + [ctypes.c_void_p] * (
            len(sig.inputs) + len(sig.outputs))
        self._run_typed.restype = ctypes.c_int
        self._dtypes = [np.dtype(t.numpy_dtype) for t in (*sig.inputs, *sig.outputs)]
        # Shapes as getters over [*dims, *static sizes]: one C-level call builds each shape tuple.
        statics = sorted({d for t in (*sig.inputs, *sig.outputs) for d in t.shape if isinstance(d, int)})
        self._statics = statics
        slot = {**{d: i for i, d in enumerate(sig.dims)}, **{v: len(sig.dims) + i for i, v in enumerate(statics)}}
        self._in_shapes = [_getter([slot[d] for d in t.shape]) for t in sig.inputs]
        self._out_shapes = [_getter([slot[d] for d in t.shape]) for t in sig.outputs]
        self._dim_src = [next((i, j) for i, t in enumerate(sig.inputs) for j, d in enumerate(t.shape) if d == s)
                         for s in sig.dims]

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}: {t.dtype}{t.shape_text()}" for t in self.signature.inputs)
        outs = ", ".join(f"{t.dtype}{t.shape_text()}" for t in self.signature.outputs)
        return f"<AotModel {self.signature.name}({ins}) -> ({outs}) from {self.path}>"

    def __reduce__(self) -> tuple:
        """Pickles the library's location: the receiver loads it (the same path must exist there)."""
        return load, (str(self.path.parent), self.signature.name)

    def bind_dims(self, arrays: list[np.ndarray]) -> list[int]:
        sig, sizes = self.signature, {}
        for t, a in zip(sig.inputs, arrays):
            if a.ndim != len(t.shape):
                raise AotCallError(f"{sig.name}: argument {t.name!r} must have shape {t.shape_text()}, "
                                   f"got {a.shape}")
            for d, actual in zip(t.shape, a.shape):
                want = sizes.setdefault(d, actual) if isinstance(d, str) else d
                if want != actual:
                    raise AotCallError(f"{sig.name}: argument {t.name!r} must have shape {t.shape_text()} "
                                       f"with {sizes} so far, got {a.shape}")
        return [sizes[d] for d in sig.dims]

    def output_shape(self, dims: list[int], index: int) -> tuple[int, ...]:
        shape = (ctypes.c_int64 * max(self.signature.max_rank, 1))()
        self._check(self._shape(*dims, index, shape))
        return tuple(shape[: len(self.signature.outputs[index].shape)])

    def __call__(self, *args: Any) -> Any:
        sig = self.signature
        if len(args) != len(sig.inputs):
            raise AotCallError(f"{sig.name} takes {len(sig.inputs)} argument(s), got {len(args)}")
        arrays = []
        for t, a, dt in zip(sig.inputs, args, self._dtypes):
            arr = np.asarray(a)
            if arr.dtype != dt and not (np.can_cast(arr.dtype, dt, "safe") or arr.dtype.kind == dt.kind == "f"):
                raise AotCallError(f"{sig.name}: argument {t.name!r} must be {dt}, got {arr.dtype}")
            arrays.append(np.asarray(arr, dtype=dt, order="C"))  # (ascontiguousarray would make 0-d 1-d)
        try:
            sizes = [arrays[i].shape[j] for i, j in self._dim_src] + self._statics
            ok = all(a.shape == get(sizes) for a, get in zip(arrays, self._in_shapes))
        except IndexError:  # an argument with fewer dims than its symbol's position
            ok = False
        if not ok:
            sizes = self.bind_dims(arrays) + self._statics  # raises the precise error
        outs = [np.empty(get(sizes), dt) for get, dt in zip(self._out_shapes, self._dtypes[len(arrays):])]
        self._check(self._run_typed(*sizes[: len(sig.dims)], *map(_data, arrays), *map(_data, outs)))
        return outs[0] if len(outs) == 1 else outs

    def _check(self, status: int) -> None:
        if status:
            raise AotCallError(f"{self.signature.name}: {self._message(status).decode()} (status {status})")


def load(out_dir: str | os.PathLike[str], name: str | None = None) -> AotModel:
    """Load the library that ``fusejit.aot.compile`` wrote to ``out_dir`` (``name`` if it holds several)."""
    directory = Path(out_dir)
    if name is None:
        manifests = sorted(directory.glob("*.json"))
        if len(manifests) != 1:
            found = ", ".join(m.stem for m in manifests) or "none"
            raise FileNotFoundError(f"{directory}: expected one AOT-compiled model, found {found}; pass name=")
        name = manifests[0].stem
    sig = Signature.from_json((directory / f"{name}.json").read_text())
    return AotModel(directory, sig)
