"""Where a compiled program's random state comes from at each call.

A traced function that draws from NumPy's random API gets one hidden graph input per source, an
:class:`RngState`: a u32[4] ``Variable`` (key, counter high words; see :mod:`fusejit.ir.philox`)
that the call refreshes from its source *before* running the program, so every call draws fresh
samples and nothing random is baked into the compiled code.

How a NumPy bit generator maps to Philox state (``next_state``): a trace that draws ``n`` values
from it (one value = one element of one draw; a binomial(n_trials) element counts n_trials)
consumes, per call, exactly the raw outputs NumPy's ``random(n)`` would (``n`` outputs for 64-bit
generators such as PCG64, ``2n`` 32-bit outputs for MT19937): the first two 64-bit words of those
(fewer if ``n < 2``) become the key ``(s0, s1)`` and counter high words ``(s2, s3)``; the rest are
skipped with ``advance`` (PCG64, PCG64DXSM: O(log n)) or generated and discarded (others: O(n),
about 6 ns per MT19937 word here). So after a call the generator's state is bit for bit the state
NumPy's ``random(n)`` would leave, and two calls never share key material.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..tracer.variables import Variable
from .bits import U32

_ADVANCEABLE = (np.random.PCG64, np.random.PCG64DXSM)
_MT19937 = np.random.MT19937  # the classes themselves: np.random's names are guarded during traces
MASK32 = 0xFFFFFFFF


def bit_generator_of(owner: Any) -> Any:
    """The bit generator behind a ``Generator``, a ``RandomState``, or NumPy's legacy global state."""
    if owner is None:
        owner = np.random.mtrand._rand
    if isinstance(owner, np.random.Generator):
        return owner.bit_generator
    return owner._bit_generator


def words_from(bg: Any, n: int) -> np.ndarray:
    """Draw the state words for a call that draws ``n`` values from ``bg``; advance ``bg`` past them."""
    if n <= 0:
        return np.zeros(4, dtype=U32)
    per = 2 if isinstance(bg, _MT19937) else 1  # raw outputs per float64, as NumPy's random()
    total, take = n * per, min(n, 2) * per
    raw = bg.random_raw(take)
    if per == 2:  # 32-bit outputs: each is one word, low half first
        words = raw.astype(U32)
    elif sys.byteorder == "little":  # 64-bit outputs: (low, high) word pairs
        words = raw.view(U32)
    else:
        words = np.stack([raw & MASK32, raw >> 32], axis=1).astype(U32).ravel()
    rest = total - take
    if rest:
        if isinstance(bg, _ADVANCEABLE):
            bg.advance(rest)
        else:
            bg.random_raw(rest, output=False)
    return words if words.size == 4 else np.concatenate([words, np.zeros(4 - words.size, dtype=U32)])


class NumPySource:
    """Fresh state per call from a NumPy generator (``owner`` None: the legacy global state, looked up
    at call time, so ``np.random.seed`` and ``np.random.set_state`` between calls take effect)."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def next_state(self, values: int, streams: int) -> np.ndarray:
        bg = bit_generator_of(self.owner)
        with bg.lock:  # NumPy's own lock: the draw and the advance are one step for concurrent callers
            return words_from(bg, values)


class EntropySource:
    """Fresh state per call without a NumPy generator (``default_rng()`` with no seed inside a traced
    function): a key from the OS drawn once per process, and a counter that skips every stream a
    call used."""

    def __init__(self) -> None:
        self.key = np.frombuffer(os.urandom(8), dtype=U32).copy()
        self.counter = 0
        self.lock = threading.Lock()

    def next_state(self, values: int, streams: int) -> np.ndarray:
        with self.lock:
            c, self.counter = self.counter, self.counter + max(streams, 1)
        return np.array([self.key[0], self.key[1], c & MASK32, (c >> 32) & MASK32], dtype=U32)


ENTROPY = EntropySource()


class RngState(Variable):
    """A hidden u32[4] graph input whose value the driver takes from :meth:`refresh` at each call of the
    compiled program (not from the buffer); ``values``/``streams`` are what the trace drew from it."""

    def __init__(self, source: Any, name: str) -> None:  # no Variable.__init__: created during a trace
        self.dtype = U32
        self._value = np.zeros(4, dtype=U32)
        self.name = name
        self.source = source
        self.values = 0
        self.streams = 0
        self._kept: dict[int, np.ndarray] = {}  # per thread

    def refresh(self) -> np.ndarray:
        """This call's state: a new array, so concurrent calls never share one (or the state a missed
        fast-path attempt of this call drew in this thread, :meth:`keep`, or one being replayed)."""
        if self._kept:
            kept = self._kept.pop(threading.get_ident(), None)
            if kept is not None:
                return kept
        replay = getattr(_replay, "states", None)
        if replay is not None and self.name in replay:
            return replay[self.name]
        state = self.source.next_state(self.values, self.streams)
        record = getattr(_replay, "record", None)
        if record is not None:
            record[self.name] = state
        return state

    def keep(self, state: np.ndarray) -> None:
        """``state`` was drawn for a call that did not run (its fast path missed): the next call of this
        program in this thread uses it, so a retried call advances the generator once."""
        self._kept[threading.get_ident()] = state


_replay = threading.local()


@contextlib.contextmanager
def recording() -> Iterator[dict[str, np.ndarray]]:
    """Collect the random states the calls in this block draw, by the hidden input's name (``rng0``,
    ``rng1``, ...: the order the function first draws from each source, the same in every trace of it)."""
    _replay.record = drawn = {}
    try:
        yield drawn
    finally:
        _replay.record = None


@contextlib.contextmanager
def replaying(states: dict[str, np.ndarray]) -> Iterator[None]:
    """Programs called in this block draw ``states`` (from :func:`recording`) instead of new ones: a
    second program over the same function (an eager vjp's pullback, which recomputes the forward
    pass) sees the samples the first one drew."""
    _replay.states = states
    try:
        yield
    finally:
        _replay.states = None
