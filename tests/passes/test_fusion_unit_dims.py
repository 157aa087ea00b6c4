"""Size-1 dims do not change the plan: a (1, D) softmax is one row kernel like an (N, D) one.

A dim of size 1 is read at index 0 whatever index map reaches it, so the planner compares maps
up to such dims (``reduce_max -> f32[1] -> reshape f32[1,1] -> broadcast f32[1,D]`` is the row
reduction's own identity). Every plan here is also run on the CPU against NumPy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import fusejit
from fusejit.bench.workloads import WORKLOADS
from fusejit.codegen.cpu.lowering import lower_for_cpu
from fusejit.driver import optimize_graph
from fusejit.passes.fusion import FusionPlan, plan_fusion

SHAPES = [(1, 64), (2, 64), (1, 1, 64), (1, 3, 64), (3, 1, 64), (4, 5, 64), (1, 1), (1, 5, 1), (7, 1)]


def planned(fn: Callable, *args: np.ndarray) -> FusionPlan:
    """The CPU backend's plan for ``fn`` at these arguments (traced, optimized, lowered)."""
    return plan_fusion(lower_for_cpu(optimize_graph(fusejit.jit(fn).trace(*args))))


def agrees_with_numpy(fn: Callable, *args: np.ndarray, rtol: float = 2e-5) -> None:
    want = fn(*args)
    got = fusejit.jit(fn)(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def softmax_unshared(x):  # the brief's spelling: exp(...) written twice, CSE makes it one
    return np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)


def log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def layer_norm(x):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + np.float32(1e-5))


def l2_normalize(x):
    return x / np.sqrt((x * x).sum(-1, keepdims=True))


def logsumexp(x):
    m = x.max(-1, keepdims=True)
    return np.log(np.exp(x - m).sum(-1, keepdims=True)) + m


ROW_FUNCTIONS = [softmax, softmax_unshared, log_softmax, layer_norm, l2_normalize, logsumexp]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("fn", ROW_FUNCTIONS, ids=lambda f: f.__name__)
def test_row_functions_are_one_kernel_whatever_dims_are_1(fn: Callable, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    plan = planned(fn, x)
    assert len(plan.kernels) == 1, str(plan)
    agrees_with_numpy(fn, x)


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("name", ["softmax", "layer_norm"])
def test_bench_row_workloads_with_one_row_are_one_row_kernel(name: str, rows: int) -> None:
    w = WORKLOADS[name]
    args = w.inputs(rows)
    plan = planned(lambda *a: w.body(np, *a), *args)
    assert [k.kind for k in plan.kernels] == ["row"], str(plan)


@pytest.mark.parametrize("batch", [1, 2, 100])
def test_mnist_step_plan_does_not_depend_on_the_batch_being_1(batch: int) -> None:
    """Two BLAS calls, the softmax/loss row kernel, the bias-gradient column sum and the mean
    of the per-row losses; batch 1 used to be 11 kernels (size-1 rows split the softmax)."""
    from scipy.special import erf

    from fusejit.bench.workloads import namespace

    w = WORKLOADS["mnist_step"]
    xp = namespace(np, erf=erf)
    args = w.inputs(batch)
    plan = planned(lambda *a: w.body(xp, *a), *args)
    kinds = [k.kind for k in plan.kernels]
    assert kinds.count("dot") == 2 and len(kinds) <= 5, str(plan)
    assert sum(k.kind == "row" and len(k.space) == 2 and "exp" in k.ops for k in plan.kernels) == 1, str(plan)
    agrees_with_numpy(lambda *a: w.body(xp, *a), *args, rtol=1e-4)


@pytest.mark.parametrize("xshape, kernels", [
    ((1, 16), 1),  # exp(a) is read once per element of (1, 16): fused
    ((16, 1), 1),  # reshaped to a column, constant along the innermost loop only: fused
    ((4, 16), 2),  # re-evaluated for every row: exp(a) is materialized once instead
])
def test_expensive_producer_broadcast_over_size_1_dims(xshape: tuple[int, int], kernels: int) -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal(16).astype(np.float32)
    x = rng.standard_normal(xshape).astype(np.float32)

    def fn(a, x):
        e = np.exp(a)
        return x * (e[:, None] if xshape[0] == 16 else e)

    plan = planned(fn, a, x)
    assert len(plan.kernels) == kernels, str(plan)
    assert sum(k.ops.count("exp") for k in plan.kernels) == 1
    agrees_with_numpy(fn, a, x)


def test_reductions_over_size_1_middle_dims() -> None:
    """Reducing (3, 1, 64) over its last two axes and normalizing: one row kernel."""
    x = np.random.default_rng(2).standard_normal((3, 1, 64)).astype(np.float32)

    def fn(x):
        return x - x.mean(axis=(1, 2), keepdims=True)

    plan = planned(fn, x)
    assert [k.kind for k in plan.kernels] == ["row"], str(plan)
    agrees_with_numpy(fn, x)
