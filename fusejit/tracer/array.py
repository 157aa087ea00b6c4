"""``TracedArray``: the abstract array a traced function computes with.

It records every NumPy operation applied to it as IR nodes. NumPy routes ufuncs to
``__array_ufunc__`` and other functions to ``__array_function__``; operators and methods are
spelled in terms of those, so one translation serves ``x + y``, ``np.add(x, y)`` and ``x.sum()``.

In-place updates (``out[m] *= a``, ``y[2:] = 0``, ``np.clip(a, lo, hi, out=a)``) rebind the
tracer's node to a functional update; Python aliasing (two names, one object) therefore
behaves like NumPy. Views are the one thing we do not track: writing through a view, or
reading a view after its base was updated in place, is a clear error instead of a wrong answer.
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Node, constant, make
from ..ir.arrays import native_byte_order, semantic_subclass_problem
from ..ir.dtypes import as_dtype
from ..ir.shapes import Dim, Shape, Size, format_shape
from .context import current
from .errors import (
    ConcretizationError,
    DataBranchError,
    DataDependentShapeError,
    InPlaceError,
    TracerLeakError,
    TracingError,
)
from .variables import Variable

_INTERNAL = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
             os.path.dirname(os.path.abspath(np.__file__)) + os.sep)


_internal_code: dict[Any, bool] = {}  # code object -> inside fusejit or NumPy (cached: traces make many arrays)


def _creation_site() -> tuple[str, int] | None:
    """The user's line that made a traced array: the first frame outside fusejit and NumPy."""
    f = sys._getframe(2)
    while f is not None:
        code = f.f_code
        internal = _internal_code.get(code)
        if internal is None:
            internal = _internal_code[code] = code.co_filename.startswith(_INTERNAL)
        if not internal:
            break
        f = f.f_back
    return None if f is None else (f.f_code.co_filename, f.f_lineno)


class Weak:
    """A Python scalar operand: weakly typed under NEP 50 (it takes the other operand's dtype)."""

    __slots__ = ("value",)

    def __init__(self, value: bool | int | float) -> None:
        self.value = value

    @property
    def py_type(self) -> type:
        return type(self.value)


class SymbolicDim(str):
    """A dimension known only at run time (``x.shape[0]`` for a ``None`` dim of a Spec).

    It can shape other arrays (``reshape``, ``zeros``) and take part in arithmetic with arrays
    (becoming a traced scalar), but not be turned into a Python int.
    """

    source: Node

    def __new__(cls, name: str, source: Node, axis: int) -> SymbolicDim:
        self = super().__new__(cls, name)
        self.source, self.axis = source, axis
        return self

    def traced(self) -> TracedArray:
        return TracedArray(make("numel", self.source, axes=[self.axis], dtype=np.dtype(np.int64)))

    def _refuse(self, *args: Any) -> Any:
        raise ConcretizationError(
            f"dimension {str(self)!r} is dynamic (declared None or a name in the input signature), so its "
            "value is unknown while tracing; it cannot become a Python int or drive Python control flow. "
            "Use it in array arithmetic, reshape or np.zeros, or declare that dimension static.")

    __int__ = __index__ = __bool__ = __float__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def _arith(op: Any, reflected: bool = False) -> Any:  # noqa: N805  (builds methods)
        def method(self: SymbolicDim, other: Any) -> Any:
            a, b = self.traced(), other
            return op(b, a) if reflected else op(a, b)
        return method

    __add__, __radd__ = _arith(operator.add), _arith(operator.add, True)
    __sub__, __rsub__ = _arith(operator.sub), _arith(operator.sub, True)
    __mul__, __rmul__ = _arith(operator.mul), _arith(operator.mul, True)
    __truediv__, __rtruediv__ = _arith(operator.truediv), _arith(operator.truediv, True)
    __floordiv__, __rfloordiv__ = _arith(operator.floordiv), _arith(operator.floordiv, True)
    __mod__, __rmod__ = _arith(operator.mod), _arith(operator.mod, True)
    __hash__ = str.__hash__


def _concretize_error(what: str, convert: Callable[..., Any], speculative: bool = False) -> Any:
    """A conversion to a Python value: of a value computed from constants alone (arrays the function
    created itself) it is that value's, as in NumPy; of a bool or int depending on the inputs
    (``speculative``), the value for the call being traced, checked at every call (:mod:`.speculation`);
    otherwise an error."""
    def method(self: TracedArray, *args: Any) -> Any:
        from .constructors import static_value
        from .speculation import speculate

        message = (
            f"{what} of a traced array ({self._describe()}) depends on the input data, which is not known "
            "while tracing. Python control flow (`if`, `while`, `and`/`or`, `int()`, `float()`) on traced "
            "values is not supported: make the argument that decides it static with "
            "`jit(..., static_argnames=...)`, or compute both branches and select with `np.where(cond, a, b)`.")
        value = static_value(self.node) if self.mask is None else None
        if value is None and speculative and self.mask is None:
            value = speculate(self.node, message)
        if value is not None:
            return convert(value, *args)
        raise (DataBranchError if speculative else ConcretizationError)(message)
    return method


class TracedArray:
    __array_priority__ = 1000
    __slots__ = ("_node", "mask", "view_base", "view_version", "is_argument", "version", "label", "dirty_views",
                 "owner", "site")

    def __init__(self, node: Node, *, mask: Node | None = None, view_of: TracedArray | None = None,
                 is_argument: bool = False, label: str | None = None) -> None:
        self._node = node
        self.mask = mask  # set for `x[bool_mask]` reads: data-dependent shape, usable only as an update
        root = view_of.view_base if view_of is not None and view_of.view_base is not None else view_of
        self.view_base = root  # the array this one is a view of (None for owners of their data)
        self.view_version = root.version if root is not None else 0
        self.is_argument = is_argument
        self.version = 0
        self.label = label
        self.dirty_views: list[TracedArray] = []  # views updated in place, not yet written back
        self.owner = current()  # the trace this array belongs to: using it after that trace ended is a leak
        self.site = _creation_site() if self.owner is not None else None

    def _leaked(self) -> TracerLeakError:
        where = f"{self.site[0]}, line {self.site[1]}" if self.site else "an unknown line"
        return TracerLeakError(
            f"a traced array ({self._describe()}) created while tracing {self.owner.fn_name}, at {where}, is used "
            "after that trace ended: it escaped into state fusejit does not track (an object or container reached "
            "neither from the function's arguments nor from its closures and globals, or a value returned "
            "through an exception). Return it from the jitted function, or store it on `self`, a closure or a "
            "global the function names, so each call replays the store with a concrete array.")

    # ---- identity and metadata ---------------------------------------------------------

    @property
    def node(self) -> Node:
        if self.owner is not None and self.owner.done:
            raise self._leaked()
        if self.dirty_views:
            raise InPlaceError(
                f"{self._describe()} is read after a view of it was updated in place (`v = x[idx]; v += ...`); "
                "fusejit does not propagate writes through views. Update the base directly: `x[idx] += ...`.")
        base = self.view_base
        if base is not None and base.version != self.view_version:
            raise InPlaceError(
                f"a view of {base._describe()} is read after that array was updated in place; fusejit does "
                "not track aliasing between views. Take the view after the update, or `.copy()` it before.")
        return self._node

    def _describe(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"{name}shape {format_shape(self._node.shape)}, dtype {self._node.dtype}"

    def _require_unmasked(self, what: str) -> None:
        if self.mask is not None:
            raise DataDependentShapeError(
                f"{what} of a boolean-mask selection `x[mask]`: its shape depends on the data. A masked read "
                "may only feed an update through the same mask (`out[m] *= a`, `out[m] = out[m] * a + 1`); "
                "use `np.where(mask, x, fill)` to keep the full shape.")

    @property
    def shape(self) -> tuple[Dim, ...]:
        self._require_unmasked("the shape")
        node = self.node
        return tuple(SymbolicDim(d, node, i) if isinstance(d, str) else d for i, d in enumerate(node.shape))

    @property
    def dtype(self) -> np.dtype:
        return self._node.dtype

    @property
    def ndim(self) -> int:
        self._require_unmasked("ndim")
        return self._node.ndim

    @property
    def size(self) -> Any:
        self._require_unmasked("the size")
        s = Size.of(self._node.shape)
        dim = s.as_dim()
        if isinstance(dim, int):
            return dim
        return SymbolicDim(dim, self.node, 0) if dim is not None and self.ndim == 1 else _symbolic_size(self)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        d = self.shape[0]
        if isinstance(d, SymbolicDim):
            d._refuse()
        return d

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"TracedArray({self._describe()})"

    __bool__ = _concretize_error("the truth value", bool, speculative=True)
    __int__ = _concretize_error("int()", int, speculative=True)
    __index__ = _concretize_error("int()", operator.index, speculative=True)
    __float__ = _concretize_error("float()", float)
    __complex__ = _concretize_error("complex()", complex)
    item = _concretize_error("the Python value", lambda v, *a: v.item(*a))
    tolist = _concretize_error("the Python value", lambda v: v.tolist())

    def __hash__(self) -> int:
        raise TracingError(
            f"unhashable type: a traced array ({self._describe()}) was used as a set member or dict key. NumPy "
            "arrays are unhashable too (equality is elementwise); key by position, a name, or id(array).")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.owner is not None and self.owner.done:
            raise self._leaked()
        from .constructors import static_value

        value = static_value(self.node) if self.mask is None else None
        if value is not None:
            return value.astype(dtype) if dtype is not None else value.copy()
        raise ConcretizationError(
            f"a traced array ({self._describe()}) was converted to a concrete NumPy array, e.g. by writing it "
            "into a NumPy array created inside the function (`out = np.zeros(...); out[i] = x`), indexing a NumPy "
            "array with it (`table[i]`: write `np.asarray(table, like=i)[i]`, or pass the table as an argument) "
            "or passing it to a library that is not NumPy. Inside a jitted function create arrays from traced "
            "ones (`np.zeros_like(x)`), or pass the shape of a traced array to `np.zeros` only for reading.")

    # ---- NumPy protocols -------------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from .ufuncs import apply_ufunc

        return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_namespace__(self, api_version: str | None = None) -> Any:
        """NumPy's: array-API code (SciPy's, scikit-learn's) then calls NumPy functions, which trace, and
        treats a traced array as writeable (its in-place updates are functional updates here)."""
        return np

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        from .functions import apply_function

        return apply_function(func, args, kwargs)

    # ---- in-place machinery ----------------------------------------------------------------

    def _assign(self, node: Node, how: str) -> None:
        """Rebind this array to ``node`` as NumPy's in-place ``how`` would leave it.

        An updated view is legal only if it is written back to its base (``x[k] += v`` is
        ``t = x[k]; t += v; x[k] = t``); until then, reading the base is an error."""
        if self.view_base is not None:
            if all(v is not self for v in self.view_base.dirty_views):
                self.view_base.dirty_views.append(self)
            self._node = node
            return
        if self.is_argument:
            raise InPlaceError(
                f"{how} would modify the argument {self._describe()} in place; jitted functions do not mutate "
                "their arguments. Work on a copy (`x = x.copy()`) or compute a new array (`x = x + 1`).")
        self._node = node
        self.version += 1


from .methods import install_methods  # noqa: E402

install_methods(TracedArray)


def _symbolic_size(arr: TracedArray) -> TracedArray:
    return TracedArray(make("numel", arr.node, axes=list(range(arr.ndim)), dtype=np.dtype(np.int64)))


# ---- lifting operands -----------------------------------------------------------------------

Operand = TracedArray | Weak


def lift(x: Any, what: str = "operand") -> Operand:
    """Turn anything a NumPy function accepts into a traced operand."""
    if isinstance(x, TracedArray):
        return x
    if isinstance(x, SymbolicDim):
        return x.traced()
    if isinstance(x, Variable):
        return lift(x.read(), what)
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        return Weak(x)
    if isinstance(x, complex):
        as_dtype(np.complex128, what)
    problem = semantic_subclass_problem(x)
    if problem is not None:  # a captured masked array or matrix
        raise TracingError(f"{what} {problem}")
    arr = native_byte_order(np.asarray(x))
    as_dtype(arr.dtype, what)
    return TracedArray(constant(arr, arr.dtype))


def operand_dtype(op: Operand) -> np.dtype | type:
    """What NumPy's promotion sees: a dtype, or the Python type of a weak scalar (bool is just bool)."""
    if isinstance(op, Weak):
        return np.dtype(bool) if isinstance(op.value, bool) else op.py_type
    return op.dtype


def to_node(op: Operand, dtype: np.dtype) -> Node:
    """The operand as a node of ``dtype`` (weak scalars become constants, others are cast)."""
    if isinstance(op, Weak):
        value = op.value
        if dtype.kind in "iu" and isinstance(value, int) and not isinstance(value, bool):
            info = np.iinfo(dtype)
            if not info.min <= value <= info.max:
                raise OverflowError(f"Python integer {value} out of bounds for {dtype}")
        with np.errstate(over="ignore"):
            return constant(np.array(value).astype(dtype), dtype)
    return cast(op.node, dtype)


def cast(node: Node, dtype: np.dtype) -> Node:
    dtype = np.dtype(dtype)
    return node if node.dtype == dtype else make("cast", node, dtype=dtype)


def broadcast(node: Node, shape: Shape) -> Node:
    shape = tuple(shape)
    return node if node.shape == shape else make("broadcast", node, shape=list(shape))


def reshape(node: Node, shape: Shape) -> Node:
    shape = tuple(shape)
    return node if node.shape == shape else make("reshape", node, shape=list(shape))


def transpose(node: Node, perm: list[int]) -> Node:
    return node if perm == sorted(perm) else make("transpose", node, perm=list(perm))


def wrap(node: Node, *, view_of: TracedArray | None = None) -> TracedArray:
    return TracedArray(node, view_of=view_of)
