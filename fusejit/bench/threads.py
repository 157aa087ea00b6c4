"""``--threads N``: one thread budget for every variant, applied through each library's own knob.

JAX reads its thread settings once, at import, so this must run before JAX is first imported;
BLAS (NumPy's matmul) is limited only when threadpoolctl is installed. What was applied is
returned for the JSON record, so a table never silently compares different thread counts.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

_keep: list[Any] = []  # threadpoolctl limits last as long as their object


def apply_threads(n: int | None, variants: set[str]) -> dict[str, Any]:
    """Limit the libraries behind ``variants`` (keys) to ``n`` threads; None leaves defaults."""
    if n is None:
        return {"requested": None}
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    applied: dict[str, Any] = {"requested": n, "fusejit": n}
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
        applied["jax"] = 1
    else:
        applied["jax"] = "all cores (XLA has no finer knob)"
    if importlib.util.find_spec("threadpoolctl"):
        from threadpoolctl import threadpool_limits

        _keep.append(threadpool_limits(n))
        applied["blas"] = n
    else:
        applied["blas"] = "not limited (threadpoolctl is not installed)"
    if "numexpr" in variants and importlib.util.find_spec("numexpr"):
        import numexpr

        numexpr.set_num_threads(n)
        applied["numexpr"] = n
    if "numba" in variants and importlib.util.find_spec("numba"):
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        applied["numba"] = numba.get_num_threads()
    if variants & {"torch", "torch_eager"} and importlib.util.find_spec("torch"):
        import torch

        torch.set_num_threads(n)
        applied["torch"] = n
    return applied
