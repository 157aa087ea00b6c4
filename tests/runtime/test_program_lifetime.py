"""Compiled programs die with their users (issue 12, item 9): native code is freed when the last
executable using it is dropped, and RSS stays flat across 1,000 programs created and dropped."""

from __future__ import annotations

import gc

import numpy as np

import fusejit
from fusejit.codegen.cpu import live_programs
from tests.runtime.subprocess_run import run_python

# 50 rounds x 20 Python-float specializations (each one a program of its own), every round a new
# jitted function that is then dropped: 1,000 programs created and freed. The first round compiles
# and fills the disk cache; later rounds link the cached objects into new engines, which is what
# must not accumulate. Prints the RSS growth (MiB) from round 5 to round 50 and the live programs.
SCRIPT = r"""
import gc
import numpy as np
import fusejit
from fusejit.codegen.cpu import live_programs

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

x = np.linspace(-1, 1, 64, dtype=np.float32)
for r in range(50):
    f = fusejit.jit(lambda x, c: np.tanh(x * c) + c)
    for c in range(20):
        np.testing.assert_allclose(f(x, float(c)), np.tanh(x * np.float32(c)) + np.float32(c), rtol=1e-5)
    del f
    gc.collect()
    if r == 4:
        base = rss_mib()
print(round(rss_mib() - base, 1), live_programs())
"""


def test_rss_stays_flat_over_1000_programs_created_and_dropped(tmp_path) -> None:
    r = run_python(SCRIPT, cache_dir=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    growth, live = r.stdout.split()
    assert int(live) == 0
    assert float(growth) < 8, f"RSS grew {growth} MiB over 900 programs created and dropped"  # kept: ~150 KB each


def test_native_code_lives_as_long_as_an_executable_uses_it() -> None:
    gc.collect()
    before = live_programs()
    x = np.arange(5, dtype=np.float64)
    f = fusejit.jit(lambda x: x * 3.5 - 0.25)
    g = fusejit.jit(lambda x: x * 3.5 - 0.25)  # the same program: one native copy, shared
    f(x), g(x)
    assert live_programs() == before + 1
    exe = f.lower(x)
    del f
    gc.collect()
    assert live_programs() == before + 1
    np.testing.assert_array_equal(g(x), x * 3.5 - 0.25)
    del g
    gc.collect()
    assert live_programs() == before + 1  # `exe` still holds it, and still runs
    np.testing.assert_array_equal(exe(x)[0], x * 3.5 - 0.25)
    del exe
    gc.collect()
    assert live_programs() == before
