"""Fault injection into the on-disk object cache (issue 12, item 6): a damaged, swapped or
impostor entry is never linked. The next process notices, deletes it, recompiles, gives the right
answer and stores a good entry; a FIFO or a directory in an entry's place neither hangs nor crashes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fusejit.runtime import disk_cache
from tests.runtime.subprocess_run import run_python

# argv[1] picks the program; prints whether it came from the disk cache
SCRIPT = r"""
import sys
import numpy as np
import fusejit

c = float(sys.argv[1])
f = fusejit.jit(lambda x: np.sqrt(np.abs(x)) * c - x)
x = np.linspace(-4, 4, 77, dtype=np.float32)
got = f(x)
np.testing.assert_array_equal(got, np.sqrt(np.abs(x)) * np.float32(c) - x)
print(f.lower(x).from_cache)
"""


def _run(cache: Path, program: str = "3") -> str:
    r = run_python(SCRIPT, program, cache_dir=cache, timeout=60)
    assert r.returncode == 0, f"the process died ({r.returncode}): {r.stderr[-2000:]}"
    return r.stdout.strip()


def _entries(cache: Path) -> set[Path]:
    return set(cache.glob("*.o"))


def _flip(bit: int):
    def damage(p: Path, other: Path) -> None:
        data = bytearray(p.read_bytes())
        data[(bit // 8) % len(data)] ^= 1 << (bit % 8)
        p.write_bytes(bytes(data))
    return damage


def _truncate(p: Path, other: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p: Path, other: Path) -> None:
    p.write_bytes(b"")


def _swap(p: Path, other: Path) -> None:
    shutil.copyfile(other, p)  # another program's intact entry under this key


def _bare_object(p: Path, other: Path) -> None:
    p.write_bytes(p.read_bytes()[disk_cache._HEAD.size:])  # an object without header (the old format)


def _fifo(p: Path, other: Path) -> None:
    p.unlink()
    os.mkfifo(p)


def _directory(p: Path, other: Path) -> None:
    p.unlink()
    p.mkdir()
    (p / "keep").write_text("a directory that cannot be removed")


FAULTS = {"truncate": _truncate, "empty": _empty, "swap": _swap, "bare-object": _bare_object,
          "flip-header": _flip(8 * 20 + 3), "flip-length": _flip(8 * 41), "flip-code": _flip(8 * 700 + 5),
          "flip-last": _flip(-1), "fifo": _fifo, "directory": _directory}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_damaged_entry_is_detected_deleted_and_recompiled(tmp_path, fault) -> None:
    other = tmp_path / "other"
    assert _run(other, "5") == "False"
    (other_entry,) = _entries(other)
    cache = tmp_path / "cache"
    assert _run(cache) == "False"
    (entry,) = _entries(cache)
    assert _run(cache) == "True"
    FAULTS[fault](entry, other_entry)
    assert _run(cache) == "False"  # rejected: compiled again, same answer (checked in SCRIPT)
    if fault == "directory":
        assert entry.is_dir()  # could not be replaced: every process compiles, none crashes
        assert _run(cache) == "False"
    else:
        assert entry.is_file()
        assert _run(cache) == "True"  # the recompiled program was stored, intact


def test_entry_format_round_trips_and_rejects_other_keys() -> None:
    k1, k2 = "a" * 64, "b" * 64
    blob = disk_cache.encode(k1, b"\x7fELF object bytes")
    assert disk_cache.decode(k1, blob) == b"\x7fELF object bytes"
    assert disk_cache.decode(k2, blob) is None
    assert disk_cache.decode(k1, blob[:-1]) is None
    assert disk_cache.decode(k1, blob + b"\0") is None
    assert disk_cache.decode(k1, b"") is None
