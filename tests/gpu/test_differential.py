"""The random-expression differential test of ``tests/test_differential.py`` on the GPU backend
(simulated): random NumPy expression trees through ``jit(device="gpu")`` equal NumPy itself —
dtype and shape exactly, values to a tight tolerance, NaN positions exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from fusejit import jit
from fusejit.codegen.cuda import CudaLoweringError
from tests.test_differential import arguments, check_against_numpy, tree


@pytest.mark.usefixtures("sim")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=tree(3), args=arguments())
def test_random_expressions_match_numpy_on_gpu(expr, args):
    def run(f, a):
        try:
            return jit(f, device="gpu")(*a)
        except CudaLoweringError as exc:  # a declined op/dtype pair (tests/gpu/test_ops.py pins them)
            assert "GPU backend" in str(exc)
            assume(False)

    check_against_numpy(expr, args, run)


@pytest.mark.usefixtures("sim")
@pytest.mark.parametrize("axis, shape", [(0, (0, 5)), (0, (0, 3, 4)), (-1, (3, 0)), (1, (2, 0, 3))])
@pytest.mark.parametrize("method", ["max", "min"])
def test_max_min_over_an_empty_axis_raise_like_numpy(method, axis, shape):
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="zero-size array to reduction operation") as expected:
        getattr(x, method)(axis=axis)
    with pytest.raises(ValueError) as got:
        jit(lambda a: getattr(a, method)(axis=axis), device="gpu")(x)
    assert str(got.value) == str(expected.value)
