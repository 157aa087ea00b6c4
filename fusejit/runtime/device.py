"""Device placement for the GPU path: resolving ``"cpu"``/``"gpu:N"`` against the innermost
``with fusejit.device(...)`` block (kept by ``runtime.placement``), and checking that a requested
GPU is really usable.

``gpu_status()`` names exactly what is missing — the numba-cuda package, the NVIDIA driver, the
CUDA toolkit libraries (NVVM/NVRTC), or the device index — instead of letting numba fail deep
inside a launch. numba-cuda's simulator (NUMBA_ENABLE_CUDASIM=1) counts as one usable device.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
from dataclasses import dataclass, field

from .placement import current_device, device, normalize

__all__ = ["DeviceUnavailableError", "GpuStatus", "device", "gpu_index", "gpu_status", "require_gpu",
           "resolve_device", "simulator_enabled"]


class DeviceUnavailableError(RuntimeError):
    """A GPU was requested but this process cannot use one; the message says what is missing."""


def resolve_device(device: str | None) -> str:
    """The device a call should run on: the explicit one, else the innermost ``device()`` block,
    else ``"cpu"``."""
    name = normalize(device) if device is not None else current_device()
    if name.startswith("cpu"):
        return "cpu"
    return "gpu:0" if name == "gpu" else name


def gpu_index(name: str) -> int:
    dev = resolve_device(name)
    if dev == "cpu":
        raise ValueError("gpu_index() of the CPU device")
    return int(dev.split(":")[1])




@dataclass
class GpuStatus:
    numba_cuda: bool
    simulator: bool
    driver: bool
    toolkit: bool
    devices: int
    missing: list[str] = field(default_factory=list)  # empty when a GPU (or the simulator) is usable


def simulator_enabled() -> bool:
    """Whether numba.cuda is (or, once imported, will be) numba-cuda's simulator."""
    import sys

    mod = sys.modules.get("numba.cuda")
    if mod is not None and hasattr(mod, "jit"):
        return getattr(mod.jit, "__module__", "").startswith("numba.cuda.simulator")
    return _sim_requested()


def _sim_requested() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def _driver_present() -> bool:
    for lib in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(lib)
            return True
        except OSError:
            continue
    return ctypes.util.find_library("cuda") is not None


def _toolkit_present() -> bool:
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        load_nvidia_dynamic_lib("nvvm")
        return True
    except Exception:
        return False


def gpu_status() -> GpuStatus:
    """What a GPU run needs, checked in the order a user would fix it. The simulator counts only
    while NUMBA_ENABLE_CUDASIM=1 is set and numba.cuda is the simulator."""
    if importlib.util.find_spec("numba_cuda") is None:
        return GpuStatus(False, False, False, False, 0,
                         ["numba-cuda (the CUDA target for numba): pip install 'fusejit[gpu]'"])
    if _sim_requested() and simulator_enabled():
        return GpuStatus(True, True, False, True, 1)
    missing: list[str] = []
    driver = _driver_present()
    if not driver:
        missing.append("an NVIDIA driver (libcuda.so was not found: this machine has no usable NVIDIA GPU)")
    toolkit = _toolkit_present()
    if not toolkit:
        missing.append("the CUDA toolkit libraries NVVM/NVRTC: pip install 'numba-cuda[cu13]'")
    devices = 0
    if driver and not simulator_enabled():
        try:
            from numba import cuda

            devices = len(cuda.gpus) if cuda.is_available() else 0
        except Exception as exc:  # the driver exists but cannot initialize (no device, version mismatch)
            missing.append(f"a working CUDA driver ({type(exc).__name__}: {exc})")
        else:
            if not devices:
                missing.append("a CUDA device (the driver reports none)")
    elif driver:
        missing.append("numba.cuda in GPU mode (it was imported as the simulator in this process)")
    return GpuStatus(True, False, driver, toolkit, devices, missing)


def require_gpu(name: str = "gpu:0") -> GpuStatus:
    """The status of a usable GPU ``name``, or DeviceUnavailableError naming what is missing."""
    index = gpu_index(name)
    status = gpu_status()
    if status.missing:
        raise DeviceUnavailableError(f"device {resolve_device(name)!r} is not available; missing: "
                                     + "; ".join(status.missing))
    if index >= status.devices:
        raise DeviceUnavailableError(f"device {resolve_device(name)!r} is not available: this machine has "
                                     f"{status.devices} CUDA device(s)")
    return status
