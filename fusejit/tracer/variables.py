"""``fusejit.Variable``: a named, typed, mutable array, read by reference inside jitted functions.

Inside a trace a variable is an extra graph input (its current value is passed at every call,
so changing it never retraces) and ``assign*`` calls become extra graph outputs, in program
order — the ``tf.Variable`` contract.

A variable owns one C-contiguous buffer for its whole life (``_value``: same array, same data
pointer). Every update writes into it: ``assign*`` outside jit with ``np.copyto``, a jitted
call either directly (the CPU program writes the new value over the old one when that is safe,
see :func:`fusejit.codegen.cpu.abi.inplace_outputs`) or by copying its fresh result in. The
buffer never escapes: ``numpy()`` and every NumPy use of a variable outside jit see a snapshot
copy, so an array a caller holds never changes under them.

Threads: every update of a variable is atomic with respect to every read and every other update
of it — outside jit (``assign*``, ``numpy()``, any NumPy use) and through jitted code, which holds
the lock of each variable it reads or assigns (:func:`hold`, taken in one global order, so two
programs locking the same variables cannot deadlock) from the native call until its updates are
written back. So a reader sees the value before or after an update, never half of each, and
concurrent ``assign_add``s (outside jit, or in a jitted function) add up: none is lost.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Node
from ..ir.arrays import semantic_subclass_problem
from ..ir.dtypes import as_dtype
from ..ir.shapes import TensorType, format_shape
from .context import current
from .errors import TracingError

_names = itertools.count()


class Variable:
    """A named, typed, mutable array (``tf.Variable``): ``Variable(value, name=None, dtype=None)``.

    Read by reference inside jitted functions (changing it never retraces), updated with ``assign``,
    ``assign_add``, ``assign_sub`` inside or outside ``jit``; ``numpy()`` is a snapshot copy. Create it
    outside the traced function. See the module docstring for buffers and threads.
    """

    __array_priority__ = 2000  # above TracedArray: mixed expressions come here first, then re-dispatch

    def __init__(self, value: Any, name: str | None = None, dtype: Any = None) -> None:
        if current() is not None:
            raise TracingError(
                "fusejit.Variable created inside a traced function: a variable must outlive the trace (each "
                "call would otherwise create a new one, and the compiled program could not refer to it). "
                "Create it once outside the function and read or assign it inside.")
        _refuse_semantic_subclass(value)
        arr = np.array(value, dtype=dtype, copy=True)
        self.dtype = as_dtype(arr.dtype, f"Variable {name or ''}".strip())
        self._value = np.array(arr, dtype=self.dtype, order="C")  # a 0-d value stays 0-d (ascontiguousarray: 1-d)
        self._lock = threading.RLock()  # updates are atomic for readers and other updaters: see the module doc
        self.name = name or f"var{next(_names)}"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. shipped to dask workers) without its lock; the copy gets a fresh one."""
        state = dict(self.__dict__)
        state["_lock"] = "_lock" in state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if state.get("_lock"):
            self._lock = threading.RLock()
        else:
            del self.__dict__["_lock"]

    # ---- value access ----------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    def numpy(self) -> np.ndarray:
        """A snapshot of the current value: a fresh array the caller owns (later updates, which
        write into the variable's buffer in place, do not change it)."""
        with self._lock:
            return self._value.copy()

    def read(self) -> Any:
        """The value: a traced array inside a trace, the NumPy array outside."""
        ctx = current()
        if ctx is None:
            return self.numpy()
        if id(self) not in ctx.variables:
            from .array import TracedArray

            node = Node("input", (), {}, TensorType(self.dtype, self.shape), name=self.name)
            traced = TracedArray(node, label=f"Variable {self.name}")
            ctx.variables[id(self)] = (self, traced)
            ctx.captured_order.append(self)
            ctx.reads[id(self)] = node
            for hook in list(ctx.on_first_read):
                hook(self)
        return ctx.variables[id(self)][1]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.read()
        return np.asarray(value, dtype=dtype)

    def __repr__(self) -> str:
        return f"<fusejit.Variable {self.name!r} shape={format_shape(self.shape)} dtype={self.dtype}>"

    # ---- updates -----------------------------------------------------------------------------

    def assign(self, value: Any) -> Variable:
        """Replace the value (cast to the variable's dtype; the shape must not change)."""
        ctx = current()
        _refuse_semantic_subclass(value)
        if ctx is None:
            new = np.asarray(value)
            if np.broadcast_shapes(new.shape, self.shape) != self.shape:
                raise ValueError(f"Variable {self.name!r}: cannot assign a value of shape {format_shape(new.shape)} "
                                 f"to a variable of shape {format_shape(self.shape)}")
            with self._lock:
                np.copyto(self._value, new, casting="unsafe")  # the buffer stays; NumPy handles overlap
            return self
        from .array import TracedArray, broadcast, cast, lift, to_node

        self.read()
        op = lift(value)
        node = to_node(op, self.dtype) if not isinstance(op, TracedArray) else cast(op.node, self.dtype)
        try:
            node = broadcast(node, self.shape)
        except TypeError:
            raise ValueError(f"Variable {self.name!r}: cannot assign a value of shape {format_shape(node.shape)} "
                             f"to a variable of shape {format_shape(self.shape)}") from None
        ctx.variables[id(self)] = (self, TracedArray(node, label=f"Variable {self.name}"))
        ctx.updates[id(self)] = self
        return self

    def assign_add(self, delta: Any) -> Variable:
        if current() is not None:
            return self.assign(self.read() + delta)
        with self._lock:  # read and write as one update
            return self.assign(np.add(self.read(), delta, dtype=self.dtype))

    def assign_sub(self, delta: Any) -> Variable:
        if current() is not None:
            return self.assign(self.read() - delta)
        with self._lock:
            return self.assign(np.subtract(self.read(), delta, dtype=self.dtype))

    # ---- NumPy protocols: act as the value ---------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(i.read() if isinstance(i, Variable) else i for i in inputs)
        if "out" in kwargs:
            raise TypeError("out= cannot be a fusejit.Variable; use var.assign(...)")
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        def unwrap(x: Any) -> Any:
            if isinstance(x, Variable):
                return x.read()
            if isinstance(x, (list, tuple)):
                return type(x)(unwrap(i) for i in x)
            return x
        return func(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.read(), name)

    def __getitem__(self, key: Any) -> Any:
        return self.read()[key]

    def __len__(self) -> int:
        return len(self._value)

    __hash__ = object.__hash__


def hold(variables: Sequence[Any]) -> threading.RLock | _Held | None:
    """One lock (``acquire``/``release``, or a ``with`` context) standing for the locks of
    ``variables``, taken in ``id`` order (the one global order), for a jitted call that reads or
    assigns them; None if none of them has a lock (no variables, or only per-call random state)."""
    locks = sorted({id(v): lk for v in variables if (lk := getattr(v, "_lock", None)) is not None}.items())
    if not locks:
        return None
    if len(locks) == 1:
        return locks[0][1]
    return _Held([lk for _, lk in locks])


class _Held:
    """Several locks as one: acquired in the given order, released in reverse (a lock's interface)."""

    def __init__(self, locks: list[threading.RLock]) -> None:
        self.locks = locks

    def acquire(self) -> None:
        taken = 0
        try:
            for lk in self.locks:
                lk.acquire()
                taken += 1
        except BaseException:
            for lk in reversed(self.locks[:taken]):
                lk.release()
            raise

    def release(self) -> None:
        for lk in reversed(self.locks):
            lk.release()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _install_operators() -> None:
    from .methods import _BINARY, _COMPARE, _UNARY

    def forward(fn: Any) -> Any:
        return lambda self, other: fn(self.read(), other.read() if isinstance(other, Variable) else other)

    def reflected(fn: Any) -> Any:
        return lambda self, other: fn(other, self.read())

    for name, fn in _BINARY.items():
        setattr(Variable, f"__{name}__", forward(fn))
        setattr(Variable, f"__r{name}__", reflected(fn))
    for name, fn in _COMPARE.items():
        setattr(Variable, f"__{name}__", forward(fn))
    for name, fn in _UNARY.items():
        setattr(Variable, f"__{name}__", lambda self, fn=fn: fn(self.read()))
    Variable.__iadd__ = Variable.assign_add  # type: ignore[attr-defined]  (`W -= lr * g` updates W)
    Variable.__isub__ = Variable.assign_sub  # type: ignore[attr-defined]
    Variable.__hash__ = object.__hash__  # type: ignore[assignment]


_install_operators()


def _refuse_semantic_subclass(value: Any) -> None:
    """A masked array or matrix would lose what makes NumPy compute differently on it."""
    problem = semantic_subclass_problem(value)
    if problem is not None:
        raise TypeError(f"fusejit.Variable value {problem}")
