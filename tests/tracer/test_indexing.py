"""Indexing and in-place updates on traced arrays, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import jit
from tests.helpers import assert_same

X = np.arange(60.0).reshape(3, 4, 5) - 30

READS = [
    lambda a: a[1], lambda a: a[-1, 2], lambda a: a[:, 1:3], lambda a: a[..., ::-1], lambda a: a[::-2, :, 1],
    lambda a: a[None, 0, ..., None], lambda a: a[1:, None, -3:], lambda a: a[:, ::3, 4:0:-2], lambda a: a[0, 0, 0],
    lambda a: a[np.array([2, 0, -1])], lambda a: a[:, [1, 1, 3]], lambda a: a[..., np.array([[0, 4], [2, 3]])],
    lambda a: a[a.argmax(axis=0)[0] % 3], lambda a: a[5:], lambda a: a[:, :, 2:2],
    lambda a: a[a > 0].sum(), lambda a: a[:][:][1],
    lambda a: a[[0, 2], [1, 3]], lambda a: a[:, [0, 1], [2, -1]], lambda a: a[[0, 1], :, [2, 3]],
    lambda a: a[0, :, [1, 2]], lambda a: a[np.arange(3)[:, None], [0, 1]], lambda a: a[1:, [3, 0], ::2],
    lambda a: a[[-1], 1:3, [[0], [4]]],
]


@pytest.mark.parametrize("case", range(len(READS)))
def test_reads(case, jit_options):
    f = READS[case]
    assert_same(jit(f, **jit_options)(X), f(X))


def update_mask_multiply(x, a):
    out = np.ones_like(x)
    out[x < 0] *= a
    return out


def update_mask_expression(x):
    out = x.copy()
    out[out > 3] = out[out > 3] * 2 + 1  # two masks built from the same values: same data, different nodes
    return out


def update_mask_same_mask_object(x):
    out = x.copy()
    m = out > 3
    out[m] = out[m] * 2 + 1
    return out


def update_scalar_mask(x):
    y = x.copy()
    y[x < 0] = 0
    return y


def update_slices(x):
    y = np.zeros_like(x)
    y[0] = 1
    y[:, 1:3] += x[:, 1:3]
    y[..., -1] = x.sum(axis=-1)
    y[::-1, 1::2] = 7.5
    y[-1, ::-3] -= 1
    return y


def update_clip_out(x):
    a = x.copy()
    np.clip(a, -1, 1, out=a)
    return a


def update_aliases(x):
    y = x.copy()
    z = y  # the same object: NumPy would see the update through both names
    z += 1
    return y


def update_whole(x):
    y = x.copy()
    y[...] = 3
    y[:] += x
    return y


UPDATES = [update_scalar_mask, update_slices, update_clip_out, update_aliases, update_whole,
           update_mask_same_mask_object]


@pytest.mark.parametrize("fn", UPDATES, ids=lambda f: f.__name__)
def test_inplace_updates_become_functional(fn, jit_options):
    x = np.random.default_rng(3).standard_normal((4, 6)) * 4
    assert_same(jit(fn, **jit_options)(x), fn(x))


def test_masked_multiply_update_from_the_issue(jit_options):
    x = np.random.default_rng(3).standard_normal((4, 6))
    assert_same(jit(update_mask_multiply, **jit_options)(x, 3.0), update_mask_multiply(x, 3.0))


def test_masked_update_through_a_recomputed_mask(jit_options):
    x = np.arange(6.0)
    assert_same(jit(update_mask_expression, **jit_options)(x), update_mask_expression(x))


def test_masked_read_through_a_different_mask_is_rejected():
    def f(x):
        y = x.copy()
        y[x > 3] = y[x > 2] * 2
        return y

    with pytest.raises(fusejit.DataDependentShapeError, match="one boolean mask into another"):
        jit(f)(np.arange(6.0))


def test_masked_read_that_escapes_is_an_error():
    with pytest.raises(fusejit.DataDependentShapeError, match=r"np.where\(mask, x, fill\)"):
        jit(lambda x: x[x > 0])(np.arange(-3.0, 3.0))
    with pytest.raises(fusejit.DataDependentShapeError, match="data-dependent|depends on the data"):
        jit(lambda x: x[x > 0] + x)(np.arange(-3.0, 3.0))
    with pytest.raises(fusejit.DataDependentShapeError):
        jit(lambda x: x[x > 0].shape)(np.arange(-3.0, 3.0))


def test_writes_through_views_and_stale_views_are_errors():
    def write_view(x):
        y = x.copy()
        v = y[0]
        v += 1
        return y

    def stale_view(x):
        y = x.copy()
        v = y[0]
        y[0] = 5
        return v

    with pytest.raises(fusejit.InPlaceError, match="after a view of it was updated in place"):
        jit(write_view)(np.ones((2, 2)))
    with pytest.raises(fusejit.InPlaceError, match="after that array was updated"):
        jit(stale_view)(np.ones((2, 2)))


def test_mutating_an_argument_is_an_error():
    def f(x):
        x += 1
        return x

    with pytest.raises(fusejit.InPlaceError, match=r"argument 'x'.*x.copy\(\)"):
        jit(f)(np.ones(3))


def test_index_errors_match_numpy():
    with pytest.raises(IndexError, match="out of bounds"):
        jit(lambda a: a[3])(X)
    with pytest.raises(IndexError, match="out of bounds"):
        jit(lambda a: a[np.array([0, 3])])(X)
    with pytest.raises(IndexError, match="too many indices"):
        jit(lambda a: a[0, 0, 0, 0])(X)


def test_traced_gather_out_of_bounds_raises_at_run_time(jit_options):
    f = jit(lambda a, i: a[i], **jit_options)
    assert_same(f(X, np.array([0, -1])), X[np.array([0, -1])])
    with pytest.raises(IndexError):
        f(X, np.array([0, 5]))


def test_two_traced_index_arrays_check_each_component(jit_options):
    f = jit(lambda a, i, j: a[i, j], **jit_options)
    i, j = np.array([0, 2, -1]), np.array([3, 0, 1])
    assert_same(f(X, i, j), X[i, j])
    with pytest.raises(IndexError):
        f(X, np.array([0]), np.array([4]))  # row 0, column 4: inside the flattened array, outside axis 1
