"""Small integer powers become multiplications before fusion, within the ulp budget."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit.codegen.cpu import compile_cpu
from fusejit.codegen.cpu.lowering import expand_small_powers
from fusejit.ir import parse


def graph(c: str, dtype: str = "f32"):
    return parse(f"""func @p(%x: {dtype}[N]) -> ({dtype}[N]) {{
  %0 = constant {{value={c}}} : {dtype}[]
  %1 = broadcast(%0) {{shape=[N]}} : {dtype}[N]
  %2 = pow(%x, %1) : {dtype}[N]
  return %2
}}""")


@pytest.mark.parametrize("c,muls", [("2.0", 1), ("3.0", 2), ("4.0", 2), ("2.5", 0)])
def test_small_powers_expand(c, muls):
    lowered = expand_small_powers(graph(c))
    ops = [n.op for n in lowered.nodes]
    assert ops.count("mul") == muls and ("pow" in ops) == (muls == 0)


@pytest.mark.parametrize("dtype,c", [("f32", "3.0"), ("f64", "4.0"), ("i32", "3"), ("f16", "2.0")])
def test_expanded_powers_match_numpy(dtype, c):
    g = graph(c, dtype)
    np_dtype = g.inputs[0].dtype
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(1000) * 10).astype(np_dtype)
    x[:4] = [0, -0.0, np.inf, -np.inf] if np_dtype.kind == "f" else [0, -1, 7, 2**10]
    got = compile_cpu(g)(x)[0]
    want = g.evaluate(x)[0]
    if np_dtype.kind == "f":
        np.testing.assert_array_max_ulp(got, want, maxulp=4)
    else:
        np.testing.assert_array_equal(got, want)


def test_shared_constant_broadcasts_are_copied_per_reader():
    from fusejit.codegen.cpu.lowering import unshare_constant_broadcasts

    g = parse("""func @two(%x: f64[N], %y: f64[N]) -> (f64[N], f64[N]) {
  %0 = constant {value=2.0} : f64[]
  %1 = broadcast(%0) {shape=[N]} : f64[N]
  %2 = mul(%x, %1) : f64[N]
  %3 = add(%y, %1) : f64[N]
  %4 = exp(%3) : f64[N]
  return %2, %4
}""")
    lowered = unshare_constant_broadcasts(g)
    assert sum(n.op == "broadcast" for n in lowered.nodes) == 2
    x, y = np.arange(5.0), np.linspace(-1, 1, 5)
    exe = compile_cpu(g)
    for got, want in zip(exe(x, y), g.evaluate(x, y)):
        np.testing.assert_array_max_ulp(got, want, maxulp=4)
    assert all(k.ops != ["broadcast"] for k in exe.kernels)
