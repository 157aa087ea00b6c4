"""Persistent cache of compiled object code, keyed by IR text + target CPU + versions.

A new process that compiles a program it has seen before loads the object file instead of
running LLVM's optimizer and code generator. Location: ``$FUSEJIT_CACHE_DIR`` or
``~/.cache/fusejit``; set ``FUSEJIT_CACHE_DIR=off`` to disable. Writes are atomic (rename).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import llvmlite
import numpy as np

FORMAT = "1"


def cache_dir() -> Path | None:
    env = os.environ.get("FUSEJIT_CACHE_DIR")
    if env == "off":
        return None
    return Path(env) if env else Path.home() / ".cache" / "fusejit" / "cpu"


def key(ir_text: str, cpu: str, features: str) -> str:
    h = hashlib.sha256()
    for part in (FORMAT, llvmlite.__version__, np.__version__, cpu, features, ir_text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def load(k: str) -> bytes | None:
    d = cache_dir()
    if d is None:
        return None
    try:
        return (d / f"{k}.o").read_bytes()
    except OSError:
        return None


def store(k: str, obj: bytes) -> None:
    d = cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(obj)
        os.replace(tmp, d / f"{k}.o")
    except OSError:
        pass  # a read-only or full disk only costs compile time
