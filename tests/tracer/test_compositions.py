"""NumPy functions fusejit builds from primitives (nansum, isclose, logaddexp, pad, ...), against NumPy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fusejit import jit
from tests.helpers import assert_same

X = np.array([[0.5, -1.0, np.nan, 3.0, np.inf], [-np.inf, 0.0, -0.0, 2.0, 1e30], [1.0, 1.0, -2.5, 7.0, 0.1]],
             np.float32)

CASES = {
    "nansum": lambda x: np.nansum(x, axis=1), "nanprod": lambda x: np.nanprod(x), "nanmean": lambda x: np.nanmean(x, 0),
    "isclose": lambda x: np.isclose(x, x[::-1]), "isclose_nan": lambda x: np.isclose(x, x, equal_nan=True),
    "nan_to_num": lambda x: np.nan_to_num(x), "nan_to_num_kw": lambda x: np.nan_to_num(x, nan=-1, posinf=9),
    "diff": lambda x: np.diff(x), "diff2": lambda x: np.diff(x, n=2, axis=0),
    "repeat": lambda x: np.repeat(x, 2, axis=1), "repeat_flat": lambda x: np.repeat(x, 3),
    "pad": lambda x: np.pad(x, 1), "pad_widths": lambda x: np.pad(x, ((0, 2), (1, 0)), constant_values=5),
    "triu": lambda x: np.triu(x), "tril": lambda x: np.tril(x, -1),
    "logaddexp": lambda x: np.logaddexp(x, x[::-1]), "logaddexp2": lambda x: np.logaddexp2(x, 1.0),
    "heaviside": lambda x: np.heaviside(x, 0.5),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compositions_match_numpy(name, dtype, jit_options):
    f, x = CASES[name], X.astype(dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(jit(f, **jit_options)(x), f(x), rtol=1e-5)
