"""Placement (``device=``, ``with fusejit.device(...)``) and the errors when no GPU is usable."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.ir import parse
from fusejit.runtime import device as dev

GRAPH = "func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n  return %0\n}"


def test_resolve_device_explicit_context_default() -> None:
    assert dev.resolve_device(None) == "cpu"
    assert dev.resolve_device("GPU") == "gpu:0"
    assert dev.resolve_device("cuda:1") == "gpu:1"
    with fusejit.device("gpu:0"):
        assert dev.resolve_device(None) == "gpu:0"
        assert dev.resolve_device("cpu") == "cpu"
        with fusejit.device("cpu"):
            assert dev.resolve_device(None) == "cpu"
        assert dev.resolve_device(None) == "gpu:0"
    assert dev.resolve_device(None) == "cpu"


def test_unknown_device_name() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        dev.resolve_device("tpu")


def test_missing_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(dev, "_driver_present", lambda: False)
    with pytest.raises(dev.DeviceUnavailableError, match=r"device 'gpu:0' is not available; missing: an NVIDIA driver"):
        dev.require_gpu("gpu")


def test_missing_toolkit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(dev, "_toolkit_present", lambda: False)
    with pytest.raises(dev.DeviceUnavailableError, match=r"NVVM/NVRTC: pip install 'numba-cuda\[cu13\]'"):
        dev.require_gpu("gpu:0")


def test_missing_numba_cuda_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dev.importlib.util.find_spec
    monkeypatch.setattr(dev.importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba_cuda" else real(name, *a))
    with pytest.raises(dev.DeviceUnavailableError, match=r"missing: numba-cuda .*pip install 'fusejit\[gpu\]'"):
        dev.require_gpu("gpu:0")


def test_jit_on_gpu_without_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(dev, "_driver_present", lambda: False)
    f = fusejit.jit(lambda x: np.exp(x), device="gpu")
    with pytest.raises(dev.DeviceUnavailableError, match="an NVIDIA driver"):
        f(np.ones(3, np.float32))


@pytest.mark.usefixtures("sim")
def test_simulator_counts_as_one_device() -> None:
    status = dev.require_gpu("gpu:0")
    assert status.simulator and status.devices == 1
    with pytest.raises(dev.DeviceUnavailableError, match="has 1 CUDA device"):
        dev.require_gpu("gpu:1")
    from fusejit.codegen.cuda import compile_cuda

    np.testing.assert_allclose(compile_cuda(parse(GRAPH))(np.ones(3, np.float32))[0], np.exp(np.ones(3)), rtol=1e-6)
