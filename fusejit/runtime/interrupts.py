"""Hold Ctrl-C back while native state is half-built, and deliver it right after.

Python runs a SIGINT handler (raising ``KeyboardInterrupt``) between any two bytecodes of the
main thread. Inside a section that creates an LLVM engine, links an object into it, records
its addresses or writes a cache file, an exception at an arbitrary point leaves the native
side inconsistent: an engine freed while its code is referenced, an object linked twice, a
half-closed file (the crashes of issue 12, item 7). ``deferred_interrupts()`` swaps in a handler
that only records the signal; when the outermost section ends the original handler is restored
and, if a signal came, called — so the ``KeyboardInterrupt`` surfaces at a clean point, at most
one critical section late.

Only the main thread receives Python signal handlers, so sections in other threads need no
deferral (and could not install a handler). Nesting is counted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_depth = 0
_pending: list[tuple[int, FrameType | None]] = []
_saved: Any = None


def _record(signum: int, frame: FrameType | None) -> None:
    _pending.append((signum, frame))


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the body with SIGINT recorded instead of raised; deliver it at the end."""
    global _depth, _saved
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        current = signal.getsignal(signal.SIGINT)
        if not callable(current):  # SIG_IGN / SIG_DFL / set from C: nothing Python would raise
            yield
            return
        _saved = current
        signal.signal(signal.SIGINT, _record)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            handler, _saved = _saved, None
            signal.signal(signal.SIGINT, handler)
            if _pending:
                signum, frame = _pending[0]
                _pending.clear()
                handler(signum, frame)  # the default handler raises KeyboardInterrupt here


__all__ = ["deferred_interrupts"]
