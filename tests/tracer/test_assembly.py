"""delete, insert, ediff1d, vander, cross, kron, meshgrid (fusejit/tracer/assembly.py) against NumPy, bitwise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fusejit
from fusejit.tracer.errors import UnsupportedFunctionError

R = np.random.default_rng(0)
X, M = R.standard_normal(6), R.standard_normal((3, 4))
A, B = R.standard_normal((4, 3)), R.standard_normal((4, 3))

CASES = {
    "delete": (np.delete, (X, 1)), "delete-list": (lambda a: np.delete(a, [0, -1]), (X,)),
    "delete-slice-axis": (lambda a: np.delete(a, slice(1, 3), axis=1), (M,)),
    "delete-mask": (lambda a: np.delete(a, np.array([True, False] * 3)), (X,)),
    "insert": (np.insert, (X, 2, 7.0)), "insert-neg-block": (lambda a: np.insert(a, -1, [7.0, 8.0]), (X,)),
    "insert-axis": (lambda a: np.insert(a, 1, 5.0, axis=1), (M,)),
    "insert-traced": (lambda a: np.insert(a, 1, a[:, 0], axis=1), (M,)), "insert-end": (np.insert, (X, 6, 1)),
    "ediff1d": (np.ediff1d, (X,)), "ediff1d-ends": (lambda a: np.ediff1d(a, to_begin=1.0, to_end=[2.0, 3.0]), (M,)),
    "vander": (np.vander, (X,)), "vander-inc": (lambda a: np.vander(a, 3, increasing=True), (X,)),
    "cross3": (np.cross, (A, B)), "cross2": (np.cross, (A[:, :2], B[:, :2])), "cross23": (np.cross, (A[:, :2], B)),
    "cross-axis": (lambda a, b: np.cross(a, b, axis=0), (A[:3].T, B[:3].T)),
    "kron": (np.kron, (M, A)), "kron-1d": (np.kron, (X[:3], X)), "kron-mixed": (np.kron, (X[:2], M)),
    "meshgrid": (lambda a, b: np.meshgrid(a, b), (X[:3], X)),
    "meshgrid-ij-sparse": (lambda a, b: np.meshgrid(a, b, indexing="ij", sparse=True), (X[:3], X)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name: str) -> None:
    f, args = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2 deprecates 2-vector cross products
        want, got = f(*args), fusejit.jit(f)(*args)
    for g, w in zip(got, want) if isinstance(want, (list, tuple)) else [(got, want)]:
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_positions_must_be_static() -> None:
    with pytest.raises(UnsupportedFunctionError, match="positions must be static"):
        fusejit.jit(lambda a, i: np.delete(a, i))(X, np.array(1))
    with pytest.raises(UnsupportedFunctionError, match="single position"):
        fusejit.jit(lambda a: np.insert(a, [1, 2], 0.0))(X)
