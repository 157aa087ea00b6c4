"""Persistent cache of compiled object code, keyed by IR text + target CPU + versions.

A new process that compiles a program it has seen before loads the object file instead of
running LLVM's optimizer and code generator. Location: ``$FUSEJIT_CACHE_DIR`` or
``~/.cache/fusejit``; set ``FUSEJIT_CACHE_DIR=off`` to disable.

Every entry is verified before its bytes reach the linker, because machine code that is wrong
by one bit is a crash or, worse, a silent wrong answer (issue 12, item 6). An entry is::

    8 bytes   MAGIC
    32 bytes  SHA-256 of (key, the object's bytes)
    8 bytes   u64 length of the object
    ...       the object

The digest covers the key, so a valid entry copied or renamed to another key's file is
rejected like a truncated or bit-flipped one. A rejected entry is deleted (the caller
recompiles and stores a good one). Only regular files are read, opened non-blocking: a FIFO,
a device or a directory in an entry's place is a miss, never a hang. Writes are atomic
(write a temporary file, then rename). The checksum defends against corruption, not against
someone who can write to the cache directory: they can run code as you anyway.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import tempfile
from pathlib import Path

import llvmlite
import numpy as np

from .interrupts import deferred_interrupts

FORMAT = "2"  # 2: entries carry MAGIC, digest and length
MAGIC = b"FJOBJ\x00\x02\n"
_HEAD = struct.Struct(f"<{len(MAGIC)}s32sQ")
MAX_BYTES = 1 << 30  # no compiled program comes near; a larger "entry" is not ours


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


def _digest(k: str, obj: bytes | memoryview) -> bytes:
    h = hashlib.sha256(k.encode())
    h.update(b"\0")
    h.update(obj)
    return h.digest()


def encode(k: str, obj: bytes) -> bytes:
    """The bytes of the cache entry holding ``obj`` under key ``k``."""
    return _HEAD.pack(MAGIC, _digest(k, obj), len(obj)) + obj


def decode(k: str, data: bytes) -> bytes | None:
    """The object in entry ``data`` if it is intact and belongs to key ``k``, else None."""
    if len(data) < _HEAD.size:
        return None
    magic, digest, n = _HEAD.unpack_from(data)
    body = memoryview(data)[_HEAD.size:]
    if magic != MAGIC or n != len(body) or _digest(k, body) != digest:
        return None
    return bytes(body)


def path(k: str) -> Path | None:
    """Where the entry of key ``k`` lives (None when the cache is off)."""
    d = cache_dir()
    return None if d is None else d / f"{k}.o"


def _read_regular(p: Path) -> bytes | None:
    """The file's bytes if it is a regular file of sane size; None for anything else."""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        chunks, left = [], st.st_size + 1  # one byte more: notice a file that grew
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _discard(p: Path) -> None:
    """Remove a bad entry (a file, link or FIFO; a directory only if empty)."""
    try:
        if p.is_dir() and not p.is_symlink():
            p.rmdir()
        else:
            p.unlink()
    except OSError:
        pass


def load(k: str) -> bytes | None:
    """The verified object of key ``k``, or None (miss; a bad entry is deleted)."""
    p = path(k)
    if p is None:
        return None
    with deferred_interrupts():
        data = _read_regular(p)
        obj = decode(k, data) if data is not None else None
        if obj is None and (data is not None or os.path.lexists(p)):
            _discard(p)
    return obj


def store(k: str, obj: bytes) -> None:
    d = cache_dir()
    if d is None:
        return
    with deferred_interrupts():
        tmp = None
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(encode(k, obj))
            os.replace(tmp, d / f"{k}.o")
            tmp = None
        except OSError:
            pass  # a read-only or full disk, or a directory in the entry's place, only costs compile time
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
