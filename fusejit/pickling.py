"""Pickling compiled functions: by reference to what rebuilds them, never the native code.

Machine code, ctypes function pointers and LLVM engines cannot cross a process boundary (and
must not: the receiving machine may have another CPU). What crosses is what *rebuilds* them:

- a ``JitFunction`` defined at module level pickles as a reference to that name (the receiver
  imports the module), like any function;
- any other ``JitFunction`` (a lambda, a closure, a function defined in ``__main__`` or a
  notebook) pickles the Python function by value through ``cloudpickle`` (the ``dask`` extra),
  captured ``Variable`` values included, plus the ``jit`` options;
- the receiver recompiles on its first call, where the on-disk object cache
  (``FUSEJIT_CACHE_DIR``) makes that a load rather than a compile.

Unpickling the same function (same bytes, same options) twice in one process returns the same
``JitFunction``, so a Dask worker that receives it with every task traces and compiles it once.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
import sys
import threading
from typing import Any

_rebuilt: dict[bytes, Any] = {}  # digest of (function bytes, options) -> the JitFunction rebuilt from them
_lock = threading.Lock()


def _lookup(module_name: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _importable_as(fn_module: str | None, qualname: str, obj: Any) -> bool:
    """Whether ``module.qualname`` names exactly ``obj`` in a module another process can import."""
    if not fn_module or fn_module == "__main__" or "<locals>" in qualname or "<lambda>" in qualname:
        return False
    module = sys.modules.get(fn_module)
    if module is None:
        return False
    try:
        target: Any = module
        for part in qualname.split("."):
            target = getattr(target, part)
    except AttributeError:
        return False
    return target is obj


def _dumps_function(fn: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        try:
            return pickle.dumps(fn)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise pickle.PicklingError(
                f"fusejit: cannot pickle {getattr(fn, '__qualname__', fn)!r} by reference ({exc}); "
                "install cloudpickle (pip install 'fusejit[dask]') to pickle lambdas, closures and "
                "functions defined in __main__ by value") from None
    return cloudpickle.dumps(fn)


def reduce_jit(f: Any) -> tuple:
    """``JitFunction.__reduce__``: a name to import, or the function's bytes plus the options."""
    if _importable_as(getattr(f.fn, "__module__", None), f.__qualname__, f):
        return _lookup, (f.fn.__module__, f.__qualname__)
    return rebuild_jit, (_dumps_function(f.fn), dict(f._options))


def rebuild_jit(payload: bytes, options: dict[str, Any]) -> Any:
    """The receiving side: one ``JitFunction`` per distinct (function, options) in this process."""
    from .driver import JitFunction

    try:
        opts = pickle.dumps(sorted(options.items(), key=lambda kv: kv[0]))
    except Exception:  # an option that does not pickle deterministically: no sharing, still correct
        opts = repr(id(options)).encode()
    digest = hashlib.sha256(payload + b"\0" + opts).digest()
    with _lock:
        found = _rebuilt.get(digest)
        if found is None:
            found = _rebuilt[digest] = JitFunction(pickle.loads(payload), **options)
        return found


__all__ = ["rebuild_jit", "reduce_jit"]
