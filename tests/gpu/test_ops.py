"""Every elementwise primitive of the registry on the GPU (simulated), per dtype, against NumPy.

One kernel per dtype computes all supported ops as separate outputs from operands salted with
the awkward values (NaN, +-inf, -0.0, zero divisors, extremes). Ops the GPU backend declines
must fail at lowering with a CudaLoweringError, and the declined set is pinned here, so an op
that silently stops lowering fails this test.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusejit.codegen.cuda import CudaLoweringError, compile_cuda, lower_graph
from fusejit.codegen.cuda.selfcheck import OPS_DTYPES, all_ops_graph
from fusejit.ir import parse

pytestmark = [pytest.mark.usefixtures("sim"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]

N = 16
# ops the backend refuses per dtype, with a clear error: integer true division and reciprocal
# (the tracer casts to float first), and on bool what NumPy has no bool loop for
DECLINED = {"int32": {"div", "reciprocal"}, "uint8": {"div", "reciprocal"}, "int8": {"div", "reciprocal"},
            "bool": {"div", "floordiv", "fmod", "mod", "neg", "pow", "reciprocal", "shl", "shr", "sign", "sub"}}


def operands(dt: np.dtype, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if dt.kind == "f":
        a = rng.standard_normal(N).astype(dt) * 3
        b = rng.standard_normal(N).astype(dt) * 3
        a[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5]
        b[:6] = [1.0, 2.0, np.inf, 0.0, -0.0, np.nan]
        return a, b, (rng.random(N) > 0.5)
    if dt.kind == "b":
        return rng.random(N) > 0.5, rng.random(N) > 0.3, rng.random(N) > 0.5
    info = np.iinfo(dt)
    a = rng.integers(max(info.min, -50), min(info.max, 50), N).astype(dt)
    a[:2] = [info.min, info.max]
    b = rng.integers(0, 7, N).astype(dt)  # non-negative: shift counts and integer powers stay defined
    b[2] = 0
    return a, b, (rng.random(N) > 0.5)


@pytest.mark.parametrize("dt", OPS_DTYPES)
def test_every_elementwise_op(dt: str) -> None:
    dtype = np.dtype(dt)
    graph, declined = all_ops_graph(dtype, N)
    assert declined == DECLINED.get(dt, set())
    supported = graph.outputs
    args = operands(dtype, np.random.default_rng(0))
    got, want = compile_cuda(graph)(*args), graph.evaluate(*args)
    for node, g, w in zip(supported, got, want):
        assert g.dtype == w.dtype, node.op
        np.testing.assert_allclose(g, w, rtol={"float16": 1e-3, "float32": 2e-6}.get(dt, 1e-12), equal_nan=True,
                                   err_msg=f"{node.op} on {dt}")


def test_declined_op_error_names_op_and_dtype() -> None:
    graph = parse("func @f(%x: i32[3], %y: i32[3]) -> (i32[3]) {\n  %0 = div(%x, %y) : i32[3]\n  return %0\n}")
    with pytest.raises(CudaLoweringError, match=r"GPU backend: div on int32 \(cast to float first\)"):
        lower_graph(graph)
