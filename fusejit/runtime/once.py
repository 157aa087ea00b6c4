"""Compute a value once per key while concurrent callers of the same key wait for it.

The jit's signature cache and the CPU backend's program cache both use it: eight threads making
their first call of one function trace and compile it once (issue 12, item 4: they traced it
7-13 times, each building native code of its own). Different keys proceed in parallel. If the
computation fails, its waiters retry (one of them becomes the next owner and meets the error
itself), so an exception is never handed to a thread that did not raise it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, MutableMapping
from typing import Generic, TypeVar

V = TypeVar("V")


class OncePerKey(Generic[V]):
    def __init__(self) -> None:
        self.lock = threading.Lock()  # also guards whatever the caller updates with its results
        self._pending: dict[Hashable, tuple[threading.Event, int]] = {}

    def get(self, cache: MutableMapping, key: Hashable, make: Callable[[], V]) -> V:
        """``cache[key]``, computed by ``make()`` (and stored) if absent; ``cache`` may be a
        weak-value mapping whose entries vanish."""
        me = threading.get_ident()
        while True:
            with self.lock:
                value = cache.get(key)
                if value is not None:
                    return value
                pending = self._pending.get(key)
                if pending is None:
                    done = threading.Event()
                    self._pending[key] = (done, me)
                elif pending[1] == me:
                    raise RuntimeError(f"fusejit: {key!r} is needed while it is being computed (recursion)")
            if pending is not None:
                pending[0].wait()
                continue
            try:
                value = make()
                with self.lock:
                    cache[key] = value
                return value
            finally:
                with self.lock:
                    del self._pending[key]
                done.set()


class KeyedLocks:
    """One re-entrant lock per key, made on first use: work on one key is serialized (a thread
    waiting for it then finds the result), work on different keys runs in parallel. For caches
    that may hold several values per key (the jit's guard sets), where :class:`OncePerKey` does not fit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards the table (and counters of the caller's)
        self._locks: dict[Hashable, threading.RLock] = {}

    def hold(self, key: Hashable) -> threading.RLock:
        """The lock of ``key``, to use as ``with locks.hold(key):``."""
        with self.lock:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.RLock()
            return lock


__all__ = ["KeyedLocks", "OncePerKey"]
