"""numexpr: elementwise expressions as strings, with NumPy for what numexpr cannot say (reductions
other than a final sum, matmul) — the way numexpr is used in practice."""

from __future__ import annotations

from collections.abc import Callable

from ..variants import Unsupported, Variant
from ..workloads import Workload
from . import missing_module


def _impls() -> dict[str, Callable]:
    import numexpr as ne

    def chain(x, y, z):
        return ne.evaluate("tanh(x * 0.5 + y) * z - x / (1 + y * y)")

    def gelu(x):
        return ne.evaluate("0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x**3)))")

    def softmax(x):
        m = x.max(axis=-1, keepdims=True)
        e = ne.evaluate("exp(x - m)", local_dict={"x": x, "m": m})
        return ne.evaluate("e / s", local_dict={"e": e, "s": e.sum(axis=-1, keepdims=True)})

    def layer_norm(x, gamma, beta):
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return ne.evaluate("(x - mean) / sqrt(var + 1e-5) * gamma + beta",
                           local_dict={"x": x, "mean": mean, "var": var, "gamma": gamma, "beta": beta})

    def mlp(x, w1, b1, w2, b2):
        h = ne.evaluate("where(h + b1 > 0, h + b1, 0)", local_dict={"h": x @ w1, "b1": b1})
        return h @ w2 + b2

    def sum_of_squares(x):
        return ne.evaluate("sum(x * x)")

    def pairwise(a):
        return ne.evaluate("sum((p - q)**2, axis=2)", local_dict={"p": a[:, None, :], "q": a[None, :, :]})

    def add_one(x):
        return ne.evaluate("x + 1")

    return {f.__name__: f for f in (add_one, chain, gelu, softmax, layer_norm, mlp, sum_of_squares, pairwise)}


REASONS = {"black_scholes": "numexpr has no erf", "mnist_step": "matmul and row reductions: nothing for numexpr"}


def build(workload: Workload) -> Callable:
    impl = _impls().get(workload.name)
    if impl is None:
        raise Unsupported(REASONS.get(workload.name, f"no numexpr version of {workload.name}"))
    return impl


def variant() -> Variant:
    return Variant("numexpr", "numexpr", build, lambda: missing_module("numexpr"))
