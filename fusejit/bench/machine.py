"""Facts about the machine and the software a benchmark ran on, recorded beside its numbers."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

LIBRARIES = ("fusejit", "numpy", "scipy", "llvmlite", "numba", "numexpr", "jax", "jaxlib", "torch", "matplotlib")
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS",
            "NUMBA_NUM_THREADS")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def llvm_host_cpu() -> str | None:
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_name()
    except Exception:  # llvmlite missing or unusable: the fact is simply unknown
        return None


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def blas_info() -> str | None:
    """NumPy's BLAS as its build config names it (e.g. ``scipy-openblas 0.3.29``)."""
    import numpy as np

    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name')} {deps.get('version')}".strip()
    except Exception:  # the config layout differs across NumPy builds
        return None


def blas_runtime() -> list[dict[str, Any]] | None:
    """The BLAS libraries actually loaded, with the kernel they picked (threadpoolctl, if installed):
    OPENBLAS_CORETYPE can force an older, slower kernel, which the table must not hide."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("internal_api", "version", "architecture", "num_threads")
    return [{k: str(info.get(k)) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]


def fusejit_revision() -> str | None:
    """The git commit fusejit was imported from, with ``+dirty`` if its sources differ from it;
    None for an installed package."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "fusejit"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev.stdout.strip() + ("+dirty" if dirty else "")


def env_vars() -> dict[str, str]:
    """The environment variables that change how the libraries run (threads, BLAS kernels)."""
    return {k: os.environ[k] for k in ENV_VARS if k in os.environ}


def machine_facts() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "llvm_host_cpu": llvm_host_cpu(),
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "blas": blas_info(),
        "blas_runtime": blas_runtime(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": library_versions(),
        "fusejit_revision": fusejit_revision(),
        "env": env_vars(),
    }
