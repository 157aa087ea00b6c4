"""The random-expression differential test of ``tests/test_differential.py`` on the GPU backend
(simulated): random NumPy expression trees through ``jit(device="gpu")`` equal NumPy itself —
dtype and shape exactly, values to a tight tolerance, NaN positions exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from fusejit import jit
from fusejit.codegen.cuda import CudaLoweringError
from tests.helpers import assert_same
from tests.test_differential import arguments, evaluate, tree


@pytest.mark.usefixtures("sim")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=tree(3), args=arguments())
def test_random_expressions_match_numpy_on_gpu(expr, args):
    def f(*a):
        return evaluate(expr, a)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = f(*args)
        except Exception:  # NumPy refuses (bad broadcast, no loop, empty max): nothing to compare
            assume(False)
        assume(isinstance(expected, (np.ndarray, np.generic)))
        try:
            actual = jit(f, device="gpu")(*args)
        except CudaLoweringError as exc:  # a declined op/dtype pair (tests/gpu/test_ops.py pins them)
            assert "GPU backend" in str(exc)
            assume(False)
    tol = 2e-2 if np.asarray(expected).dtype == np.float16 or any(a.dtype == np.float16 for a in args) else 1e-5
    assert_same(actual, expected, rtol=tol)
