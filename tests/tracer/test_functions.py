"""NumPy functions and methods under trace: reductions, layout, joins, products, creation."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit import jit
from tests.helpers import assert_same

rng = np.random.default_rng(7)
X = rng.standard_normal((3, 4, 5))
XI = rng.integers(-5, 5, (3, 4, 5)).astype(np.int32)
XB = XI > 0
XH = X.astype(np.float16)

REDUCTION_CASES = [
    ("sum", {}), ("sum", {"axis": 1}), ("sum", {"axis": (0, 2), "keepdims": True}), ("sum", {"dtype": np.float32}),
    ("prod", {"axis": -1}), ("max", {"axis": 0}), ("min", {}), ("mean", {}), ("mean", {"axis": (1, 2)}),
    ("mean", {"axis": 0, "keepdims": True}), ("var", {"axis": 1}), ("var", {"ddof": 1}), ("std", {"axis": -1}),
    ("std", {"axis": 0, "ddof": 1, "keepdims": True}), ("any", {"axis": 2}), ("all", {}), ("argmax", {}),
    ("argmax", {"axis": 1}), ("argmin", {"axis": -1, "keepdims": True}), ("amax", {"axis": 2}),
]


@pytest.mark.parametrize("name,kwargs", REDUCTION_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("x", [X, XI, XB, XH, X[:, :0]], ids=["f64", "i32", "bool", "f16", "empty"])
def test_reductions_match_numpy(name, kwargs, x, jit_options):
    fn = getattr(np, name)

    def f(a):
        return fn(a, **kwargs)

    with np.errstate(all="ignore"):
        try:
            expected = f(x)
        except (ValueError, TypeError) as exc:
            with pytest.raises(type(exc)):
                jit(f, **jit_options)(x)
            return
        actual = jit(f, **jit_options)(x)
    assert_same(actual, expected, rtol=2e-2 if x.dtype == np.float16 else None)


def test_reduction_methods_and_ufunc_reduce(jit_options):
    def f(a):
        return a.sum(1), a.mean(), a.max(axis=0), a.std(), np.add.reduce(a), np.maximum.reduce(a, axis=2)

    assert_same(jit(f, **jit_options)(X), f(X))


def test_sum_of_int32_is_int64_and_mean_of_int_is_float64(jit_options):
    g = jit(lambda a: (a.sum(), a.mean(), np.prod(a.astype(np.uint8))), **jit_options)
    s, m, p = g(XI)
    assert s.dtype == np.int64 and m.dtype == np.float64 and p.dtype == np.uint64


LAYOUT = [
    lambda a: a.reshape(12, 5), lambda a: a.reshape(-1), lambda a: np.reshape(a, (4, -1)), lambda a: a.T,
    lambda a: a.transpose(1, 0, 2), lambda a: np.transpose(a, (2, 0, 1)), lambda a: np.swapaxes(a, 0, 2),
    lambda a: np.moveaxis(a, 0, -1), lambda a: np.moveaxis(a, [0, 1], [2, 0]), lambda a: np.expand_dims(a, 1),
    lambda a: np.expand_dims(a, (0, -1)), lambda a: np.squeeze(a[:, :1]), lambda a: a[:, :1].squeeze(1),
    lambda a: np.broadcast_to(a[:, :1], (3, 4, 5)), lambda a: np.broadcast_to(a, (2, 3, 4, 5)),
    lambda a: a.flatten(), lambda a: a.ravel(), lambda a: np.concatenate([a, a * 2], axis=1),
    lambda a: np.concatenate([a, a], axis=None), lambda a: np.stack([a, a + 1], axis=-1),
    lambda a: np.split(a, 2, axis=1), lambda a: np.split(a, [1, 4], axis=2), lambda a: np.tile(a, 2),
    lambda a: np.tile(a[0], (2, 1, 3)), lambda a: np.take(a, [0, 2], axis=1), lambda a: np.take(a, [5, -1]),
    lambda a: np.flip(a, 1), lambda a: np.vstack([a[0], a[1]]), lambda a: np.hstack([a[0], a[1]]),
    lambda a: a.astype(np.int16), lambda a: np.zeros_like(a), lambda a: np.ones_like(a, dtype=np.int8),
    lambda a: np.full_like(a, 2.5), lambda a: np.full_like(a, 7, shape=(2, 2)), lambda a: np.empty_like(a) * 0,
    lambda a: np.where(a > 0, a, 0.0), lambda a: np.where(a > 0, 1, 2), lambda a: np.clip(a, -0.5, 0.5),
    lambda a: a.clip(0), lambda a: np.clip(a, None, 1), lambda a: np.round(a, 2), lambda a: np.round(a),
    lambda a: a.copy(), lambda a: np.linalg.norm(a), lambda a: np.linalg.norm(a, axis=1),
    lambda a: np.linalg.norm(a, ord=1, axis=-1), lambda a: np.linalg.norm(a, ord=np.inf, axis=0),
    lambda a: np.linalg.norm(a[0], "fro"), lambda a: np.linalg.norm(a, ord=3, axis=2, keepdims=True),
]


@pytest.mark.parametrize("case", range(len(LAYOUT)))
def test_layout_and_creation(case, jit_options):
    f = LAYOUT[case]
    assert_same(jit(f, **jit_options)(X), f(X), rtol=1e-12)


PRODUCTS = [
    (lambda a, b: a @ b, (4, 5), (5, 3)), (lambda a, b: np.matmul(a, b), (2, 4, 5), (5, 3)),
    (lambda a, b: a @ b, (5,), (5, 3)), (lambda a, b: a @ b, (4, 5), (5,)), (lambda a, b: a @ b, (5,), (5,)),
    (lambda a, b: np.dot(a, b), (4, 5), (5, 3)), (lambda a, b: np.dot(a, b), (2, 4, 5), (3, 5, 2)),
    (lambda a, b: a.dot(b), (5,), (5,)), (lambda a, b: np.tensordot(a, b, axes=1), (4, 5), (5, 3)),
    (lambda a, b: np.tensordot(a, b, axes=([0, 1], [1, 0])), (4, 5), (5, 4)),
    (lambda a, b: np.einsum("ij,jk->ik", a, b), (4, 5), (5, 3)),
    (lambda a, b: np.einsum("bij,bjk->bik", a, b), (2, 4, 5), (2, 5, 3)),
    (lambda a, b: np.einsum("ij,kj->ik", a, b), (4, 5), (3, 5)),
    (lambda a, b: np.einsum("ij,ij->i", a, b), (4, 5), (4, 5)),
    (lambda a, b: np.einsum("ij,jk", a, b), (4, 5), (5, 3)),
    (lambda a, b: np.einsum("i,j->ij", a, b), (4,), (5,)),
    (lambda a, b: np.einsum("ij->ji", a) + b.sum(), (4, 5), (2,)),
    (lambda a, b: np.outer(a, b), (4,), (3,)), (lambda a, b: np.inner(a, b), (4, 5), (3, 5)),
]


@pytest.mark.parametrize("case", range(len(PRODUCTS)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_matrix_products(case, dtype, jit_options):
    f, sa, sb = PRODUCTS[case]
    a = (rng.standard_normal(sa) * 3).astype(dtype)
    b = (rng.standard_normal(sb) * 3).astype(dtype)
    assert_same(jit(f, **jit_options)(a, b), f(a, b), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_mixed_dtype_matmul_promotes(jit_options):
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.int64)
    assert_same(jit(lambda x, y: x @ y, **jit_options)(a, b), a @ b)
