"""Ctrl-C at random points of compiling and of loading from the disk cache (issue 12, item 7):
the process never crashes, a ``KeyboardInterrupt`` reaches the caller, and every later call
gives the right answer. Plus the deferral itself, in process. ``FUSEJIT_SOAK_ROUNDS=N`` makes each
process create N x 48 programs instead of 48 (a longer local profile)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from fusejit.runtime.interrupts import deferred_interrupts
from tests.runtime.subprocess_run import run_python

# A thread sends SIGINT to the process at random intervals while the main thread keeps creating
# jitted functions over six programs and dropping them: the first of each program compiles,
# later ones load from the disk cache (dropped programs are freed). An interrupted attempt is
# retried. Prints the number of interrupts seen and of programs that ran right.
SCRIPT = r"""
import os, random, signal, sys, threading
import numpy as np
import fusejit

rnd = random.Random(int(sys.argv[1]))
total = 48 * int(sys.argv[2])
x = np.linspace(-3, 3, 101, dtype=np.float32)
stop = threading.Event()
sent = [0]

def killer():  # at most 40 signals per 48 programs: a loaded machine still finishes (never livelocks)
    while not stop.wait(rnd.uniform(0.001, 0.08)) and sent[0] < 40 * total // 48:
        sent[0] += 1
        os.kill(os.getpid(), signal.SIGINT)

sender = threading.Thread(target=killer, daemon=True)
sender.start()
interrupted = ok = 0
i = 0
while i < total:
    try:
        c = float(i % 6)
        f = fusejit.jit(lambda x: np.tanh(x) * c + 1)
        got = f(x)
        np.testing.assert_allclose(got, np.tanh(x) * np.float32(c) + 1, rtol=1e-5)
        del f
        ok += 1
        i += 1
    except KeyboardInterrupt:
        interrupted += 1
signal.signal(signal.SIGINT, signal.SIG_IGN)  # from here on, signals on their way are dropped
stop.set()
sender.join()
print(sent[0] > 0, interrupted > 0, ok == total)
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ctrl_c_at_random_points_of_compile_and_cache_load(tmp_path, seed) -> None:
    rounds = os.environ.get("FUSEJIT_SOAK_ROUNDS", "1")
    r = run_python(SCRIPT, str(seed), rounds, cache_dir=tmp_path, timeout=120 * int(rounds))
    assert r.returncode == 0, f"the process died ({r.returncode}): {r.stderr[-2000:]}"
    assert r.stdout.split() == ["True", "True", "True"], r.stdout + r.stderr[-2000:]
    # Python delivers a KeyboardInterrupt wherever the main thread is, also inside a weakref callback or
    # a __del__ run by the garbage collector (it is then printed and dropped). Never inside the disposal
    # of an LLVM object: one whose close() is interrupted is freed twice later.
    for report in r.stderr.split("Exception ignored")[1:]:
        assert "_dispose" not in report and "LLVMPY_Dispose" not in report, report


def test_sigint_inside_a_section_is_raised_at_its_end() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            with deferred_interrupts():  # nested: delivered when the outermost ends
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):  # the handler has run by now (between bytecodes)
                    pass
                steps.append("inner done")
            steps.append("outer done")
    assert steps == ["inner done", "outer done"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sections_off_the_main_thread_leave_signals_alone() -> None:
    seen = []

    def work() -> None:
        with deferred_interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.default_int_handler]
