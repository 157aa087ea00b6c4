"""cumsum / cumprod on the GPU backend (simulated) against NumPy, bitwise."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit import Spec, jit
from fusejit.codegen.cuda import lower_graph
from tests.codegen.test_cpu_scan import data, same_bits

pytestmark = [pytest.mark.usefixtures("sim"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]


@pytest.mark.parametrize("dt", ["bool", "int8", "int32", "uint8", "float16", "float32", "float64"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_matches_numpy_bitwise(dt: str, axis: int | None) -> None:
    x = data(dt, (3, 4, 6))
    s, p = jit(lambda a: (np.cumsum(a, axis=axis), np.cumprod(a, axis=axis)), device="gpu")(x)
    same_bits(s, np.cumsum(x, axis=axis))
    with np.errstate(all="ignore"):
        same_bits(p, np.cumprod(x, axis=axis))


def test_strided_fused_neighbours_dynamic_and_empty() -> None:
    def fn(a):
        return np.cumsum(a * 2, axis=0) + 1, np.nancumprod(a.T, axis=1)

    base = data("float32", (9, 6))
    base[2, 3] = np.nan
    for x in (base, base[::2, ::-1]):
        for g, w in zip(jit(fn, device="gpu")(x), fn(x)):
            same_bits(g, w)
    f = jit(lambda a: np.cumsum(a, axis=0), device="gpu", input_signature=[Spec((None, 3), np.float32)])
    for n in (0, 5):
        x = data("float32", (n, 3))
        same_bits(f(x), np.cumsum(x, axis=0))
    same_bits(jit(np.cumsum, device="gpu")(np.float32(1.5)), np.cumsum(np.float32(1.5)))


def test_lowered_kernel_scans_one_line_per_thread() -> None:
    graph = jit(lambda a: np.cumsum(a, axis=1)).trace(np.ones((4, 8), np.float32))
    (ks,) = lower_graph(graph)
    assert ks.kind == "scan" and "for s in range(1, 8):" in ks.source


@pytest.mark.parametrize("shape, axis", [((3, 0), 1), ((0, 3), 0), ((2, 5), 1)])
def test_casts_applied_on_load_and_empty_axes(shape: tuple[int, ...], axis: int) -> None:
    x = data("int8", shape)
    f = jit(lambda a: (np.cumsum(a, axis=axis), np.cumprod(a > 2, axis=axis)), device="gpu")
    for got, want in zip(f(x), (np.cumsum(x, axis=axis), np.cumprod(x > 2, axis=axis))):
        same_bits(got, want)
