"""Assertions shared by differential tests: same dtype, same shape, same values, same NaNs."""

from __future__ import annotations

from typing import Any

import numpy as np


def tolerance(dtype: np.dtype) -> float:
    return {"f": {2: 2e-3, 4: 2e-6, 8: 1e-13}}.get(dtype.kind, {}).get(dtype.itemsize, 0.0)


def assert_same(actual: Any, expected: Any, *, rtol: float | None = None, what: str = "result") -> None:
    """``actual`` equals NumPy's ``expected`` in dtype and shape exactly and in value up to a
    tight relative tolerance for floats; NaN and inf positions must match."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, type(expected)), f"{what}: {type(actual)} vs {type(expected)}"
        assert len(actual) == len(expected)
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, rtol=rtol, what=f"{what}[{i}]")
        return
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for k in expected:
            assert_same(actual[k], expected[k], rtol=rtol, what=f"{what}[{k!r}]")
        return
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, NumPy gives {e.dtype}"
    assert a.shape == e.shape, f"{what}: shape {a.shape}, NumPy gives {e.shape}"
    if e.dtype.kind != "f":
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    tol = tolerance(e.dtype) if rtol is None else rtol
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{what}: NaN positions differ")
    finite = np.isfinite(e)
    np.testing.assert_array_equal(a[~finite & ~np.isnan(e)], e[~finite & ~np.isnan(e)], err_msg=f"{what}: inf differ")
    if finite.any():
        ea, aa = e[finite].astype(np.float64), a[finite].astype(np.float64)
        scale = np.maximum(np.abs(ea), np.finfo(e.dtype).tiny * 1e3)
        err = np.abs(aa - ea) / scale
        worst = int(np.argmax(err))
        assert err[worst] <= tol or abs(aa[worst] - ea[worst]) <= tol * max(1.0, np.abs(ea).max()) * 4, (
            f"{what}: value {aa[worst]!r} vs NumPy {ea[worst]!r} (rel err {err[worst]:.3g} > {tol:.3g})")
