"""Derivatives of whole NumPy programs: the tracer's decompositions one by one, hypothesis random
expression trees (the differential suite's generator), and second order — reverse and forward
mode against central differences in a random direction, and ⟨u, J v⟩ = ⟨Jᵀ u, v⟩."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fusejit
from tests.test_differential import evaluate, tree

REF = {"backend": "reference"}


def derivatives(f: Callable, args: list[np.ndarray], u: np.ndarray, v: list[np.ndarray],
                options: dict = REF) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """f(args), Jᵀu (one per arg) and J v, each from one compiled program."""
    out = fusejit.jit(lambda a: f(*a), **options)(args)
    back = fusejit.jit(lambda a, u: fusejit.vjp(f, *a)[1](u), **options)(args, u)
    tan = fusejit.jit(lambda a, t: fusejit.jvp(f, a, t)[1], **options)(args, v)
    return out, list(back), tan


def check(f: Callable, args: list[np.ndarray], seed: int = 0, eps: float = 1e-6, rtol: float = 1e-5,
          options: dict = REF) -> None:
    rng = np.random.default_rng(seed)
    out = np.asarray(f(*args))
    u = rng.standard_normal(out.shape)
    v = [rng.standard_normal(a.shape) for a in args]
    got, back, tan = derivatives(f, args, u, v, options)
    np.testing.assert_allclose(got, out, rtol=1e-12, atol=1e-12)
    fd = (np.asarray(f(*[a + eps * d for a, d in zip(args, v)])) -
          np.asarray(f(*[a - eps * d for a, d in zip(args, v)]))) / (2 * eps)
    scale = max(1.0, float(np.abs(fd).max(initial=0)))
    np.testing.assert_allclose(tan, fd, rtol=rtol, atol=rtol * scale)
    lhs, rhs = float(np.sum(u * tan)), float(sum(np.sum(b * d) for b, d in zip(back, v)))
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-12 * scale), (lhs, rhs)


def _r(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def _pos(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _softmax_xent(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.sum(logp * y) / len(z)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5) * g + b


DECOMPOSITIONS: dict[str, tuple[Callable, list]] = {
    "mean": (lambda x: x.mean(axis=0), [_r(3, 4)]),
    "var": (lambda x: np.var(x, axis=1, ddof=1), [_r(3, 4)]),
    "std": (lambda x: x.std(), [_r(3, 4)]),
    "norm": (lambda x: np.linalg.norm(x), [_r(3, 4)]),
    "norm-axis": (lambda x: np.linalg.norm(x, axis=1), [_r(3, 4)]),
    "einsum": (lambda a, b: np.einsum("ij,jk->ik", a, b), [_r(2, 3), _r(3, 4)]),
    "einsum-batch": (lambda a, b: np.einsum("bij,bjk->bik", a, b), [_r(2, 2, 3), _r(2, 3, 1)]),
    "tensordot": (lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1])), [_r(2, 3, 4), _r(3, 4, 2)]),
    "matmul-vec": (lambda a, b: a @ b, [_r(3, 4), _r(4)]),
    "vec-matmul": (lambda a, b: a @ b, [_r(4), _r(4, 2)]),
    "dot-1d": (lambda a, b: np.dot(a, b), [_r(5), _r(5)]),
    "outer": (lambda a, b: np.outer(a, b), [_r(3), _r(2)]),
    "broadcast-arith": (lambda a, b: a * b + a / (1 + b * b), [_r(3, 1), _r(4)]),
    "size-1": (lambda a, b: a - b, [_r(1, 1), _r(1, 3)]),
    "empty": (lambda a, b: (a * b).sum(axis=0), [_r(0, 3), _r(3)]),
    "softmax-xent": (_softmax_xent, [_r(4, 5), lambda rng: np.eye(5)[rng.integers(0, 5, 4)]]),
    "layer-norm": (_layer_norm, [_r(3, 6), _r(6), _r(6)]),
    "logsumexp": (lambda x: np.log(np.sum(np.exp(x), axis=-1)), [_r(3, 4)]),
    "gelu": (lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), [_r(6)]),
    "erf-expit": (lambda x: scipy.special.erf(x) * scipy.special.expit(x), [_r(6)]),
    "power": (lambda x, y: x ** y + np.square(x) + x ** 3, [_pos(4), _r(4)]),
    "hypot-atan2": (lambda x, y: np.hypot(x, y) + np.arctan2(y, x), [_pos(4), _r(4)]),
    "clip": (lambda x: np.clip(x, -0.5, 0.7), [lambda rng: np.array([-1.0, -0.2, 0.3, 0.9])]),
    "where": (lambda x, y: np.where(x > 0, x * y, np.sin(y)), [lambda rng: np.array([-1.0, 2, -3, 4]), _r(4)]),
    "max-axis": (lambda x: x.max(axis=1) + np.amin(x, axis=0).sum(), [_r(3, 4)]),
    "prod": (lambda x: np.prod(x, axis=1), [_r(3, 4)]),
    "cumsum": (lambda x: np.cumsum(x, axis=1), [_r(3, 4)]),
    "cumprod": (lambda x: np.cumprod(x), [_r(5)]),
    "transpose": (lambda x: np.moveaxis(x, 0, -1).swapaxes(0, 1).T, [_r(2, 3, 4)]),
    "reshape": (lambda x: x.reshape(4, 3).ravel()[::2], [_r(3, 4)]),
    "flip-roll": (lambda x: np.roll(np.flip(x, axis=1), 2, axis=1), [_r(3, 4)]),
    "concat-stack": (lambda a, b: np.stack([np.concatenate([a, b]), np.vstack([b, a])]), [_r(2, 3), _r(2, 3)]),
    "split": (lambda x: np.split(x, 2, axis=1)[1] * np.split(x, 2, axis=1)[0], [_r(3, 4)]),
    "tile-repeat": (lambda x: np.tile(x, (2, 1)) + np.repeat(x, 2, axis=0), [_r(2, 3)]),
    "pad": (lambda x: np.pad(x, ((1, 0), (2, 1))), [_r(2, 3)]),
    "diff": (lambda x: np.diff(x, axis=1), [_r(3, 4)]),
    "diagonal-trace": (lambda x: np.diagonal(x) * np.trace(x), [_r(3, 3)]),
    "triu-tril": (lambda x: np.triu(x) * 2 + np.tril(x, -1), [_r(3, 3)]),
    "take": (lambda x: np.take(x, [2, 0, 2], axis=1), [_r(3, 4)]),
    "take-along": (lambda x: np.take_along_axis(x, np.array([[1], [0], [3]]), axis=1), [_r(3, 4)]),
    "fancy-index": (lambda x: x[np.arange(3), np.array([1, 3, 3])], [_r(3, 4)]),
    "slices": (lambda x: x[1:, ::-2] * x[:-1, 1::2], [_r(3, 4)]),
    "expand-squeeze": (lambda x: np.squeeze(np.expand_dims(x, 1)) + np.broadcast_to(x[:, :1], (3, 4)), [_r(3, 4)]),
    "astype": (lambda x: x.astype(np.float32).astype(np.float64) * 0 + x * x.astype(np.int64), [_r(4)]),
    "abs-sign": (lambda x: np.abs(x) * np.sign(x) + np.fmod(x, 0.7), [lambda rng: np.array([-1.1, 0.3, 1.9])]),
}


@pytest.mark.parametrize("name", list(DECOMPOSITIONS))
def test_decomposition(name: str) -> None:
    f, makers = DECOMPOSITIONS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    check(f, [m(rng) for m in makers], rtol=1e-4 if name == "astype" else 1e-5)


@pytest.mark.parametrize("name", ["softmax-xent", "layer-norm", "fancy-index", "prod", "cumprod"])
def test_decomposition_compiled(name: str) -> None:
    f, makers = DECOMPOSITIONS[name]
    rng = np.random.default_rng(1)
    check(f, [m(rng) for m in makers], options={"backend": "cpu"})


@pytest.mark.parametrize("name", ["gelu", "layer-norm", "logsumexp", "power", "softmax-xent", "norm"])
def test_second_order(name: str) -> None:
    """grad of grad: the Hessian (jacobian of the gradient) against central differences of the gradient."""
    f, makers = DECOMPOSITIONS[name]
    rng = np.random.default_rng(2)
    args = [m(rng) for m in makers]
    scalar = (lambda *a: np.sum(f(*a) * np.linspace(0.5, 1.5, np.size(f(*args))).reshape(np.shape(f(*args)))))
    hess = fusejit.jit(fusejit.hessian(scalar), **REF)(*args)
    grad = fusejit.jit(fusejit.grad(scalar), **REF)
    x, eps = args[0], 1e-5
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        e = e.reshape(x.shape)
        cols.append((grad(x + e, *args[1:]) - grad(x - e, *args[1:])) / (2 * eps))
    fd = np.moveaxis(np.array(cols).reshape(x.shape + x.shape), range(x.ndim), range(x.ndim, 2 * x.ndim))
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-6 * max(1, np.abs(fd).max()))


@st.composite
def float_arguments(draw: Any) -> list[np.ndarray]:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    out = []
    for _ in range(draw(st.integers(1, 3))):
        sub = shape[draw(st.integers(0, len(shape))):]
        sub = tuple(1 if draw(st.booleans()) and d else d for d in sub) if draw(st.booleans()) else sub
        out.append(draw(hnp.arrays(np.float64, sub, elements=st.floats(-3, 3))))
    return out


@given(expr=tree(3), args=float_arguments())
def test_random_programs(expr: Any, args: list[np.ndarray]) -> None:
    def f(*a: np.ndarray) -> np.ndarray:
        return evaluate(expr, a) * np.float64(1.0)  # bool/int results: float, gradient 0

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(f(*args))
        except Exception:  # NumPy refuses (bad broadcast, empty max): nothing to differentiate
            assume(False)
        assume(np.isfinite(out).all())
        rng = np.random.default_rng(0)
        u = rng.standard_normal(out.shape)
        v = [rng.standard_normal(a.shape) for a in args]
        got, back, tan = derivatives(f, args, u, v)
        scale = max(1.0, float(np.abs(tan).max(initial=0)), *(float(np.abs(b).max(initial=0)) for b in back))
        lhs, rhs = float(np.sum(u * tan)), float(sum(np.sum(b * d) for b, d in zip(back, v)))
        # a cast to float16/32 rounds the cotangent too (and its derivative is taken as 1, not the
        # 0 almost everywhere that finite differences of a rounding see)
        narrow = {"float16": 1e-2, "float32": 1e-5}
        rtol = max([1e-8] + [t for name, t in narrow.items() if name in repr(expr)])
        if np.isfinite(lhs) and np.isfinite(rhs):
            assert np.isclose(lhs, rhs, rtol=rtol, atol=rtol * 1e-2 * scale * max(1, out.size)), (lhs, rhs)
        if rtol > 1e-8:
            return
        # a cast to bool or an integer type is a step function with its steps at integers (0 for bool):
        # at an integral argument the program's own branch (whose derivative it gives) is the one at
        # the step, which both finite-difference neighbours may leave (where(bool(0), x, int(x)) at 0)
        if any(t in repr(expr) for t in ("bool", "int")) and any((a == np.round(a)).any() for a in args):
            return
        # remainder/fmod/floor_divide step at every multiple of a divisor the program computes (a divisor
        # of 2e-309 puts millions of steps inside the difference step): their rules are checked by
        # differences in test_rules.py on inputs away from the steps; here the adjoint identity above
        if any(t in repr(expr) for t in ("remainder", "fmod", "floor_divide")):
            return
        # central differences where the program is smooth around args: one-sided slopes agree (no kink)
        # and so do two step sizes
        def at(e: float) -> np.ndarray:
            return np.asarray(f(*[a + e * d for a, d in zip(args, v)]))

        e = 1e-6
        fwd, bwd, fd = (at(e) - out) / e, (out - at(-e)) / e, (at(e) - at(-e)) / (2 * e)
        fd4 = (at(1e-4) - at(-1e-4)) / 2e-4
        smooth = np.isfinite(fd) & np.isclose(fwd, bwd, rtol=1e-4, atol=1e-4) & np.isclose(fd, fd4, rtol=1e-4,
                                                                                          atol=1e-5)
        np.testing.assert_allclose(np.asarray(tan)[smooth], fd[smooth], rtol=1e-4, atol=1e-5)
