"""Operators and ndarray methods of ``TracedArray``, each spelled as the NumPy call it means."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power, "matmul": np.matmul,
    "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor, "lshift": np.left_shift,
    "rshift": np.right_shift,
}
_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
            "gt": np.greater, "ge": np.greater_equal}
_UNARY = {"neg": np.negative, "pos": np.positive, "abs": np.absolute, "invert": np.invert}


def _forward(fn: Any) -> Any:
    return lambda self, other: fn(self, other)


def _reflected(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _inplace(fn: Any) -> Any:
    def method(self: Any, other: Any) -> Any:
        return fn(self, other, out=(self,))
    return method


def _via(fn_name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(np, fn_name)(self, *args, **kwargs)
    method.__name__ = fn_name
    return method


def _shape_args(args: tuple) -> Any:
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


_FLAGS = {f: types.SimpleNamespace(c_contiguous=True, contiguous=True, f_contiguous=f, fortran=f, writeable=True,
                                   owndata=True, aligned=True, writebackifcopy=False) for f in (False, True)}


def install_methods(cls: type) -> None:
    for name, fn in _BINARY.items():
        setattr(cls, f"__{name}__", _forward(fn))
        setattr(cls, f"__r{name}__", _reflected(fn))
        if name != "matmul":
            setattr(cls, f"__i{name}__", _inplace(fn))
    for name, fn in _COMPARE.items():
        setattr(cls, f"__{name}__", _forward(fn))
    for name, fn in _UNARY.items():
        setattr(cls, f"__{name}__", lambda self, fn=fn: fn(self))
    for name in ("sum", "mean", "max", "min", "prod", "argmax", "argmin", "any", "all", "std", "var",
                 "clip", "squeeze", "ravel", "swapaxes", "take", "round", "dot", "repeat", "cumsum", "cumprod",
                 "nonzero", "sort", "argsort", "partition", "argpartition", "trace", "diagonal"):
        setattr(cls, name, _via(name))
    cls.reshape = lambda self, *shape, order="C": np.reshape(self, _shape_args(shape), order=order)
    cls.transpose = lambda self, *axes: np.transpose(self, _shape_args(axes) or None)
    cls.T = property(lambda self: np.transpose(self))
    # traced dtypes are real: the conjugate is a copy; a traced value has no memory layout, so library
    # code asking for one (np.kron: b.flags.contiguous) sees a C-contiguous, writeable array
    cls.conj = cls.conjugate = lambda self: np.copy(self)
    cls.flags = property(lambda self: _FLAGS[self.ndim <= 1])
    cls.real = property(lambda self: self)  # a real array's .real is the array itself (a view in NumPy)
    cls.device = property(lambda self: "cpu")  # NumPy 2's (array-API code asks every array)
    cls.mT = property(lambda self: np.swapaxes(self, -1, -2))
    cls.flatten = lambda self, order="C": np.ravel(self, order=order).copy()
    cls.copy = lambda self, order="K": np.copy(self)
    cls.astype = lambda self, dtype, order="K", casting="unsafe", copy=True: np.astype(self, dtype, copy=copy)
    cls.__matmul__ = _forward(np.matmul)
    cls.__rmatmul__ = _reflected(np.matmul)
