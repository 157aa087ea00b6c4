"""The planner's multi-output and size-1-dim plans lowered to CUDA, run in numba-cuda's simulator,
against the NumPy reference evaluator: the GPU lowers exactly the kernels the CPU lowers."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit.codegen.cuda import compile_cuda
from fusejit.driver import jit, optimize_graph
from fusejit.passes.fusion import plan_fusion

pytestmark = [pytest.mark.usefixtures("sim"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]


def black_scholes(s, k, t, r, sigma):
    from scipy.special import erf

    from fusejit.bench.workloads import WORKLOADS, namespace

    return WORKLOADS["black_scholes"].body(namespace(np, erf=erf), s, k, t, r, sigma)


def softmax_loss(x, y):
    s = x - x.max(-1, keepdims=True)
    e = np.exp(s)
    z = e.sum(-1, keepdims=True)
    return e / z, -(y * (s - np.log(z))).sum(-1)


def logsumexp(x):
    m = x.max(-1, keepdims=True)
    return np.log(np.exp(x - m).sum(-1, keepdims=True)) + m


def sum_and_product(x, y):
    return x.sum(-1), x * y


def layer_norm_with_stats(x):
    return (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True), x.mean(-1), x.var(-1)


def _bs_args(rng):
    n = 37
    return (rng.uniform(10, 200, n), rng.uniform(10, 200, n), rng.uniform(0.1, 2, n), rng.uniform(0.01, 0.05, n),
            rng.uniform(0.1, 0.5, n))


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


CASES = {
    "black_scholes": (black_scholes, _bs_args, 1),
    "softmax_loss": (softmax_loss, lambda r: (_f32(r, 5, 10), np.eye(10, dtype=np.float32)[[1, 3, 0, 9, 9]]), 1),
    "softmax_loss_one_row": (softmax_loss, lambda r: (_f32(r, 1, 10), np.eye(10, dtype=np.float32)[[4]]), 1),
    "logsumexp_keepdims": (logsumexp, lambda r: (_f32(r, 3, 40),), 1),
    "logsumexp_one_row": (logsumexp, lambda r: (_f32(r, 1, 40),), 1),
    "logsumexp_middle_one": (logsumexp, lambda r: (_f32(r, 2, 1, 40),), 1),
    "sum_and_product": (sum_and_product, lambda r: (_f32(r, 4, 33), _f32(r, 4, 33)), 1),
    "layer_norm_with_stats": (layer_norm_with_stats, lambda r: (_f32(r, 3, 50),), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_plan_runs_on_the_gpu_simulator(name: str) -> None:
    fn, make_args, kernels = CASES[name]
    args = make_args(np.random.default_rng(0))
    graph = optimize_graph(jit(fn, backend="reference").trace(*args))
    assert len(plan_fusion(graph).kernels) == kernels
    exe = compile_cuda(graph)
    assert exe.num_kernels == kernels
    got, want = exe(*args), graph.evaluate(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
