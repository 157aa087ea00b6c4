"""Which device a call runs on: ``with fusejit.device("gpu:0"):`` like ``tf.device``."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator

_state = threading.local()
_DEVICE = re.compile(r"(cpu|gpu|cuda)(:\d+)?\Z")


def normalize(name: str) -> str:
    name = name.strip().lower()
    if not _DEVICE.match(name):
        raise ValueError(f"unknown device {name!r}; expected 'cpu', 'gpu' or 'gpu:<index>'")
    return name.replace("cuda", "gpu")


def current_device() -> str:
    return getattr(_state, "device", "cpu")


@contextlib.contextmanager
def device(name: str) -> Iterator[str]:
    """Run jitted calls inside the block on ``name`` unless a function fixes its own device."""
    prev = current_device()
    _state.device = normalize(name)
    try:
        yield _state.device
    finally:
        _state.device = prev
