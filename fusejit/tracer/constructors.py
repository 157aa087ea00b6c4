"""NumPy's array constructors inside a trace, as library code calls them.

Almost every library function starts by validating its input with ``np.asarray`` (or ``np.array``,
``np.asanyarray``, ``np.ascontiguousarray``), and builds results in arrays it creates itself
(``out = np.zeros(n); out[i] = x_i``). Neither dispatches on a traced argument (they are C functions
without ``__array_function__``), so while a function is traced they are replaced, in the ``numpy``
namespace (and ``asarray`` & co. in NumPy's own Python modules, whose functions run through
:func:`.functions.numpy_implementation`):

- ``asarray``/``asanyarray``/``ascontiguousarray``/``asfortranarray``/``array`` of a traced array pass
  it through (cast when ``dtype=`` asks; memory order means nothing to a traced value); of a
  (nested) list holding traced arrays they stack it, with NumPy's dtype for the mix (Python scalars
  in a list are not weak: ``np.array([f32, 1.0])`` is float64, in NumPy too).
- ``zeros``/``ones``/``empty``/``full``/``arange``/``eye``/``identity``/``linspace`` called from code
  outside fusejit return traced constants, so writing traced values into them is a functional
  update like any other (``empty`` is zeros: its contents are undefined in NumPy).

Traced values computed from constants alone are concrete (:func:`static_value`): ``len``,
``float(np.zeros(3)[0])``, ``range(np.arange(3)[2])`` and passing them to C code work as in NumPy.

The creators check their caller: only Python source calling them by name in the tracing thread
gets a traced constant (compiled extensions calling ``np.empty``, fusejit and NumPy get NumPy's). They are
installed by the first trace and removed by the last one to end (other threads see the wrappers
meanwhile, which pass plain arguments straight to NumPy).
"""

from __future__ import annotations

import linecache
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Node, constant
from .array import TracedArray, cast, reshape, wrap
from .context import current

_ASARRAY = ("asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "array")
_CREATORS = ("zeros", "ones", "empty", "full", "arange", "eye", "identity", "linspace")
_lock = threading.Lock()
_users = 0
_saved: list[tuple[Any, str, Any]] = []  # (module, name, original)


def _has_traced(obj: Any) -> bool:
    if isinstance(obj, TracedArray):
        return True
    return isinstance(obj, (list, tuple)) and any(_has_traced(o) for o in obj)


def _element(obj: Any) -> TracedArray:
    """One element of a list given to ``np.array``: traced arrays as they are, nested lists stacked,
    anything else a strong constant (NumPy's array coercion types Python scalars as int64/float64)."""
    if isinstance(obj, TracedArray):
        return obj
    if isinstance(obj, (list, tuple)) and _has_traced(obj):
        return _stacked(obj)
    a = _ORIGINAL["asarray"](obj)
    return TracedArray(constant(a, a.dtype))


def _stacked(items: Any) -> TracedArray:
    parts = [_element(o) for o in items]
    dtype = np.result_type(*[p.dtype for p in parts])
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ValueError("setting an array element with a sequence. The requested array has an inhomogeneous "
                         f"shape: its elements have shapes {sorted(map(str, shapes))}")
    return np.stack([p if p.dtype == dtype else wrap(cast(p.node, dtype)) for p in parts])


def _convert(obj: Any, dtype: Any, ndmin: int = 0) -> TracedArray:
    out = obj if isinstance(obj, TracedArray) else _stacked(obj)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = wrap(cast(out.node, np.dtype(dtype)))
    if out.ndim < ndmin:
        out = wrap(reshape(out.node, (1,) * (ndmin - out.ndim) + tuple(out.shape)))
    return out


def _called_from_python_source(name: str, depth: int = 2) -> bool:
    """Is the caller Python code calling ``...name(`` itself (``np.zeros(n)``)? Compiled code (NumPy's
    Cython random generators calling ``np.empty``) has no frame of its own: the nearest Python frame is
    then in the middle of another call, whose source does not start with ``name(``. fusejit's and
    NumPy's own modules always get NumPy's arrays."""
    frame = sys._getframe(depth)
    module = frame.f_globals.get("__name__", "")
    if module.startswith(("fusejit.", "numpy.")) or module == "numpy" or not hasattr(frame.f_code, "co_positions"):
        return False
    positions = list(frame.f_code.co_positions())
    if not 0 <= frame.f_lasti // 2 < len(positions):
        return False
    line, end_line, col, end_col = positions[frame.f_lasti // 2]
    if line is None or col is None:
        return False
    text = linecache.getline(frame.f_code.co_filename, line)[col:]
    return re.match(rf"[\w.\s]*\b{name}\s*\(", text) is not None


def _as_wrapper(name: str) -> Callable[..., Any]:
    original = _ORIGINAL[name]

    def wrapper(a: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> Any:
        if type(a) is np.ndarray or kwargs.get("like") is not None or not _has_traced(a):
            return original(a, dtype, *args, **kwargs)
        out = _convert(a, dtype, int(kwargs.get("ndmin", 0)))
        copy = kwargs.get("copy", name == "array")  # np.array copies by default, the others when asked
        always = copy is True or getattr(copy, "name", None) == "ALWAYS"  # np._CopyMode too
        return np.copy(out) if always and out is a else out

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = original.__doc__
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def _creator(name: str) -> Callable[..., Any]:
    original = _ORIGINAL[name]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current() is None or kwargs.get("like") is not None or _has_traced(args) \
                or _has_traced(list(kwargs.values())) or not _called_from_python_source(name):
            return original(*args, **kwargs)  # traced arguments dispatch through __array_function__
        value = original(*args, **kwargs)
        if name == "empty":
            value = np.zeros_like(value)
        return TracedArray(constant(value, value.dtype)) if isinstance(value, np.ndarray) else value

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = original.__doc__
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


_ORIGINAL: dict[str, Any] = {n: getattr(np, n) for n in _ASARRAY + _CREATORS}


def install() -> None:
    """Put the replacements in place (first trace) — see the module docstring."""
    global _users
    with _lock:
        if _users == 0:
            wrappers = {n: _as_wrapper(n) for n in _ASARRAY} | {n: _creator(n) for n in _CREATORS}
            for mod in [np, *(m for k, m in list(sys.modules.items()) if k.startswith("numpy.") and m)]:
                names = _ASARRAY + _CREATORS if mod is np else _ASARRAY
                for n in names:
                    if vars(mod).get(n) is _ORIGINAL[n]:
                        _saved.append((mod, n, _ORIGINAL[n]))
                        setattr(mod, n, wrappers[n])
        _users += 1


def uninstall() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users == 0:
            for mod, n, original in reversed(_saved):
                setattr(mod, n, original)
            _saved.clear()


class patched:
    """``with patched():`` — the replacements are in place for the block."""

    def __enter__(self) -> None:
        install()

    def __exit__(self, *exc: object) -> None:
        uninstall()


_UNFOLDABLE = ("input", "philox")


def static_value(node: Node) -> np.ndarray | None:
    """The value of ``node`` when it is computed from constants alone (arrays the traced function
    created itself), else None. Evaluated with the ops' NumPy references, so it is NumPy's value."""
    from ..ir.evaluator import run_node

    memo: dict[int, np.ndarray] = {}
    stack: list[Node] = [node]
    while stack:
        n = stack[-1]
        if id(n) in memo:
            stack.pop()
            continue
        if n.op in _UNFOLDABLE or any(isinstance(d, str) for d in n.shape):
            return None
        todo = [a for a in n.args if id(a) not in memo]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        memo[id(n)] = n.attrs["value"] if n.op == "constant" else run_node(n, [memo[id(a)] for a in n.args], {})
    return memo[id(node)]
