"""roll, take_along_axis, diagonal, diag and trace, against NumPy: exact, every dtype kept."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit import Spec, UnsupportedFunctionError, jit
from tests.helpers import assert_same

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5, 6)).astype(np.float32)
X[0, 1, 2], X[3, 4, 5] = np.nan, -np.inf
M = rng.standard_normal((5, 7))
V = rng.integers(-9, 9, 4)

CASES = {
    "roll_flat": (lambda a: np.roll(a, 2), X),
    "roll_axis": (lambda a: np.roll(a, -3, axis=1), X),
    "roll_axes": (lambda a: np.roll(a, (1, 2, 9), axis=(0, 2, 2)), X),
    "roll_zero": (lambda a: np.roll(a, 0, axis=0), X),
    "roll_wraps": (lambda a: np.roll(a, 13, axis=-1), X),
    "roll_method_int": (lambda a: np.roll(a, 1) - a, V),
    "take_along_argmax": (lambda a: np.take_along_axis(a, np.argmax(a, axis=1)[:, None], axis=1), X),
    "take_along_last": (lambda a: np.take_along_axis(a, np.argmin(a, axis=-1, keepdims=True), axis=-1), X),
    "take_along_broadcast": (lambda a: np.take_along_axis(a, np.array([[[0], [-1]]]), axis=1), X),
    "take_along_none": (lambda a: np.take_along_axis(a.ravel(), np.array([3, -2, 0]), axis=None), X),
    "take_along_labels": (lambda a: np.take_along_axis(a, np.array([[1], [0], [6], [3], [2]]), axis=1), M),
    "diagonal": (lambda a: np.diagonal(a), X),
    "diagonal_axes": (lambda a: np.diagonal(a, 1, 1, 2), X),
    "diagonal_reversed_axes": (lambda a: np.diagonal(a, -2, 2, 0), X),
    "diagonal_method": (lambda a: a.diagonal(offset=3), M),
    "diagonal_below": (lambda a: np.diagonal(a, -4), M),
    "diagonal_empty": (lambda a: np.diagonal(a, 9), M),
    "trace": (lambda a: np.trace(a), M),
    "trace_method": (lambda a: a.trace(1), M),
    "trace_dtype": (lambda a: np.trace(a, dtype=np.float64), X),
    "diag_of_matrix": (lambda a: np.diag(a, -2), M),
    "diag_of_vector": (lambda a: np.diag(a[0]), M),
    "diag_above": (lambda a: np.diag(a[0], 2), M),
    "diag_below": (lambda a: np.diag(a[1], -3), M),
    "diag_int": (lambda a: np.trace(np.diag(a) @ np.diag(a)), V),
}


@pytest.mark.parametrize("name", CASES)
def test_rearrangements_match_numpy(name, jit_options):
    f, x = CASES[name]
    assert_same(jit(f, **jit_options)(x), f(x), rtol=0)


def test_take_along_axis_out_of_range_raises():
    f = jit(lambda a: np.take_along_axis(a, np.array([[[0], [5]]]), axis=1))
    with pytest.raises(IndexError, match="out of bounds"):
        f(X)


@pytest.mark.parametrize("fn", [lambda a: np.roll(a, 1, axis=0), lambda a: np.diagonal(a),
                                lambda a: np.take_along_axis(a, a[:, :1].astype(np.int64), axis=1)])
def test_dynamic_axis_is_refused(fn):
    with pytest.raises(UnsupportedFunctionError, match="dynamic dimension"):
        jit(fn, input_signature=[Spec((None, 3), np.float32)])(np.ones((2, 3), np.float32))


def test_traced_shift_is_refused():
    with pytest.raises(UnsupportedFunctionError, match="Python int"):
        jit(lambda a, s: np.roll(a, s))(X, np.int64(2))
