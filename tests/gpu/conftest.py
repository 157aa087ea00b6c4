"""tests/gpu run generated CUDA kernels in numba-cuda's simulator.

The simulator is chosen when numba.cuda is first imported (NUMBA_ENABLE_CUDASIM=1), so this
conftest imports it in simulator mode at collection and restores the environment at once; the
``sim`` fixture sets the variable again only while a GPU test runs, so ``gpu_status()`` reports a
simulated device to these tests and the real (absent) hardware to every other test. PTX/cubin
checks need numba.cuda in GPU mode and run in a subprocess (test_toolchain.py).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest


def _load_simulator() -> str | None:
    """None when numba.cuda is the simulator in this process, else why it cannot be."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install -e '.[gpu]')"
    if "numba.cuda" not in sys.modules:
        before = os.environ.get("NUMBA_ENABLE_CUDASIM")
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        try:
            import numba.cuda  # noqa: F401
        finally:
            if before is None:
                del os.environ["NUMBA_ENABLE_CUDASIM"]
            else:
                os.environ["NUMBA_ENABLE_CUDASIM"] = before
    from fusejit.runtime.device import simulator_enabled

    if not simulator_enabled():
        return "numba.cuda was imported in GPU mode before tests/gpu was collected; run tests/gpu on its own"
    return None


SIM_UNAVAILABLE = _load_simulator()


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> None:
    if SIM_UNAVAILABLE:
        pytest.skip(SIM_UNAVAILABLE)
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
