"""Differential fuzzer: random programs (elementwise ops with NumPy's promotion and Python scalars,
broadcasting, reductions, slicing with negative steps, where, matmul whose result is reused and
returned, cumsum, casts between all dtypes, transposes; shapes with 0 and 1) over arguments of
every dtype and layout, compiled fused and unfused, against NumPy: bit for bit where the
arithmetic is exactly specified, within a derived error bound where NumPy leaves rounding open
(tests/fuzz/programs.py says which is which).

CI runs a short derandomized profile (``CI_PROGRAMS``); ``FUSEJIT_FUZZ_MINUTES=30`` runs fresh random
programs for that long (``-s`` prints how many).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import fusejit
from tests.fuzz.draw import programs
from tests.fuzz.programs import check, run_numpy

CI_PROGRAMS = 200
MINUTES = float(os.environ.get("FUSEJIT_FUZZ_MINUTES", "0") or 0)
COMMON = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck), "print_blob": True}
STATS = {"programs": 0, "elements": 0}


def run_program(case: tuple) -> None:
    prog, args, wants, errs = case
    before = [a.copy() for a in args]
    again = run_numpy(prog, *args)
    for w, r in zip(again, wants):  # the oracle is deterministic
        np.testing.assert_array_equal(np.asarray(w), r)
    for fuse in (True, False):
        f = fusejit.jit(prog, fuse=fuse)
        for call in (args, [np.array(a, order="C") for a in args]):  # the second call: a cached program
            got = f(*call)
            assert isinstance(got, tuple) and len(got) == len(wants)
            for k, (g, w, e) in enumerate(zip(got, wants, errs)):
                STATS["elements"] += check(g, w, e, f"fuse={fuse} output {k} of\n{prog}\nargs {_describe(call)}")
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b, err_msg="an argument was modified")
    STATS["programs"] += 1


def _describe(args: list[np.ndarray]) -> str:
    return ", ".join(f"{a.dtype}{list(a.shape)} strides {a.strides}" for a in args)


@settings(max_examples=CI_PROGRAMS, derandomize=True, **COMMON)
@given(programs())
def test_random_programs_match_numpy(case: tuple) -> None:
    run_program(case)


@pytest.mark.skipif(not MINUTES, reason="the long run: set FUSEJIT_FUZZ_MINUTES")
def test_random_programs_match_numpy_for_minutes() -> None:
    stop = time.monotonic() + MINUTES * 60
    start = STATS["programs"]
    batch = settings(max_examples=50, derandomize=False, **COMMON)(given(programs())(run_program))
    try:
        while time.monotonic() < stop:
            batch()
    finally:
        print(f"\nfuzzer: {STATS['programs'] - start} programs, {STATS['elements']} elements checked")
