"""JAX: ``jax.jit`` of the workload's own body with ``jax.numpy`` as the namespace, on the CPU.

float64 is switched on (Black-Scholes is float64; float32 work stays float32). Inputs are placed
on the device once, outside the timed call, and every call waits for its result
(``block_until_ready``) since JAX dispatches asynchronously.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..variants import Variant, bind
from ..workloads import Workload, namespace
from . import missing_module


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


def build(workload: Workload) -> Callable:
    jax = _jax()
    xp = namespace(jax.numpy, erf=jax.scipy.special.erf)
    compiled = jax.jit(bind(workload.body, xp, workload.name))
    return lambda *args: jax.block_until_ready(compiled(*args))


def to_native(arrays: Sequence[np.ndarray]) -> tuple:
    jax = _jax()
    return tuple(jax.device_put(a) for a in arrays)


def variant() -> Variant:
    return Variant("jax", "JAX jit", build, lambda: missing_module("jax", "jaxlib"), to_native=to_native,
                   tracemalloc_visible=False)
