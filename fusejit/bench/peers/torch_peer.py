"""PyTorch, two ways: eager, with torch's own fused operators where a torch user would call one
(``F.softmax``, ``F.layer_norm``, ``F.gelu``) and the workload's body op by op otherwise; and
``torch.compile`` (inductor, CPU) of the workload's own body. Inputs are shared with NumPy
(``torch.from_numpy``, no copy)."""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence

import numpy as np

from ..variants import Variant
from ..workloads import Workload, namespace
from . import missing_module


def _namespace():
    import torch

    return namespace(torch, max=torch.amax, maximum=lambda a, b: torch.clamp(a, min=b),
                     var=lambda x, axis, keepdims: torch.var(x, dim=axis, keepdim=keepdims, correction=0))


def build(workload: Workload) -> Callable:
    import torch

    # dynamo counts recompilations per code object: compile a private copy of the body's code, not a
    # wrapper shared by every workload, which would hit the recompile limit and fall back to eager
    body = workload.body
    fresh = types.FunctionType(body.__code__.replace(), body.__globals__, body.__name__, body.__defaults__)
    compiled = torch.compile(fresh, dynamic=False)  # specialize per shape, as JAX and fusejit do
    xp = _namespace()
    return lambda *args: compiled(xp, *args)


def _eager_natives() -> dict[str, Callable]:
    import torch.nn.functional as F

    return {
        "softmax": lambda x: F.softmax(x, dim=-1),
        "layer_norm": lambda x, gamma, beta: F.layer_norm(x, x.shape[-1:], gamma, beta, eps=1e-5),
        "gelu": lambda x: F.gelu(x, approximate="tanh"),
    }


def build_eager(workload: Workload) -> Callable:
    native = _eager_natives().get(workload.name)
    if native is not None:
        return native
    xp = _namespace()
    return lambda *args: workload.body(xp, *args)


def to_native(arrays: Sequence[np.ndarray]) -> tuple:
    import torch

    return tuple(torch.from_numpy(a) for a in arrays)


def to_numpy(result) -> tuple[np.ndarray, ...]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return tuple(r.detach().numpy() for r in items)


def variant() -> Variant:
    return Variant("torch", "torch.compile", build, lambda: missing_module("torch"), to_native=to_native,
                   to_numpy=to_numpy, tracemalloc_visible=False)


def eager_variant() -> Variant:
    return Variant("torch_eager", "torch", build_eager, lambda: missing_module("torch"), to_native=to_native,
                   to_numpy=to_numpy, tracemalloc_visible=False)
