"""Pause Python's cyclic garbage collector while a program is traced and compiled.

Tracing and code generation allocate tens of thousands of short-lived objects (graphs,
llvmlite IR); that volume sets off full collections, each a traversal of every object in
the process (NumPy, llvmlite, the caller's data): measured ~35 ms of mnist_step's ~220 ms
cold compile. Paused, the collector sees those objects once, in an ordinary young-generation
collection after compiling. Nesting and threads are counted: the collector is re-enabled
when the outermost compile ends, and only if it was enabled when the first one began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_reenable = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _reenable
    with _lock:
        if _depth == 0:
            _reenable = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _reenable:
                gc.enable()
