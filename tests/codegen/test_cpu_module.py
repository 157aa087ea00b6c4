"""Glue is compiled unoptimized, the loops it calls are not."""

from __future__ import annotations

import numpy as np
import pytest
from llvmlite import ir

import fusejit
from fusejit.codegen.cpu import build_cpu_module
from fusejit.ir import parse
from tests.cpu_graphs import SUMSQ

DOT = """func @f(%x: {t}[4,8], %w: {t}[8,3]) -> ({t}[4,3]) {{
  %0 = dot(%x, %w) : {t}[4,3]
  return %0
}}"""


def _functions(module: ir.Module) -> dict[str, ir.Function]:
    return {f.name: f for f in module.functions if f.blocks}


def test_entry_wrapper_and_blas_call_are_glue_and_kernels_are_not() -> None:
    cm = build_cpu_module(parse(DOT.format(t="f32")), name="fj_t")
    fns = _functions(cm.module)
    for name in ("fj_t", "fj_t_py", "dot0"):
        assert {"optnone", "noinline"} <= set(fns[name].attributes), name
    for name, fn in fns.items():
        if name not in ("fj_t", "fj_t_py", "dot0"):
            assert "optnone" not in fn.attributes, name


def test_a_dot_without_blas_keeps_its_inline_loop_optimized() -> None:
    fns = _functions(build_cpu_module(parse(DOT.format(t="i32")), name="fj_t").module)
    assert "optnone" not in fns["dot0"].attributes


@pytest.mark.parametrize("t,dt", [("f32", np.float32), ("i32", np.int32)])
def test_dot_results(t: str, dt: type) -> None:
    x = np.arange(32).reshape(4, 8).astype(dt)
    w = (np.arange(24).reshape(8, 3) - 7).astype(dt)
    np.testing.assert_array_equal(fusejit.jit(lambda a, b: a @ b)(x, w), x @ w)


def test_chunk_finish_is_not_inlined_into_the_glue() -> None:
    fns = _functions(build_cpu_module(parse(SUMSQ), name="fj_t").module)
    finish = [f for n, f in fns.items() if n.endswith(".finish")]
    assert finish and all("noinline" in f.attributes and "alwaysinline" not in f.attributes for f in finish)
    x = np.linspace(-3, 3, 1 << 20, dtype=np.float32)
    np.testing.assert_allclose(fusejit.jit(lambda v: np.sum(v * v))(x), np.sum(x * x, dtype=np.float64), rtol=1e-5)


def _sgd(x, g, w):
    return w - 0.5 * (x.T @ g)


def test_dot_epilogue_over_a_transposed_operand_runs_flat() -> None:
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((6, 40), np.float32), rng.standard_normal((6, 3), np.float32)
    w = rng.standard_normal((40, 3), np.float32)
    f = fusejit.jit(_sgd)
    assert "k0.flat" in f.lower(x, g, w).llvm_ir
    np.testing.assert_allclose(f(x, g, w), _sgd(x, g, w), rtol=1e-5, atol=1e-6)
    xs, ws = np.asfortranarray(x), w[::-1]  # strided operands: the BLAS flags and the generic version
    np.testing.assert_allclose(f(xs, g, ws), _sgd(xs, g, ws), rtol=1e-5, atol=1e-6)


def test_a_transpose_the_epilogue_also_reads_keeps_the_loop_nest() -> None:
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((5, 5), np.float32), rng.standard_normal((5, 5), np.float32)

    def fn(a, b):
        return a.T @ b + a.T

    f = fusejit.jit(fn)
    assert "k0.flat" not in f.lower(x, g).llvm_ir
    np.testing.assert_allclose(f(x, g), fn(x, g), rtol=1e-5, atol=1e-6)


def test_every_lazily_compiled_generic_kernel_has_its_pointer() -> None:
    """Issue 12, item 5: a scan fused with a cast read a strided input, so the runtime looked for
    a ``_genptr`` global the module never defined and wrote through a null pointer (SIGSEGV)."""
    from fusejit.codegen.cpu.module import generic_kernels

    f = fusejit.jit(lambda a, b: np.cumsum(a, axis=0) + b)
    a, b = np.ones((3, 1), np.int32), np.ones((3, 4), np.int32)[:, ::4]
    np.testing.assert_array_equal(f(a, b), np.cumsum(a, axis=0) + b)
    exe = f.lower(a, b)
    cm = build_cpu_module(exe.graph, lazy_generic=True)
    assert cm.lazy_generic == generic_kernels(exe.graph, exe.plan)
    for ki in cm.lazy_generic:
        assert cm.generic_pointer(ki) in cm.module.globals


def test_a_long_elementwise_chain_is_one_kernel_not_a_recursion_error() -> None:
    """Issue 12, item 8: expressions were emitted recursively (3 Python frames per op): a fused
    chain of ~330 ops raised RecursionError; 2,000 compile now."""
    from fusejit.codegen.cpu import compile_cpu

    n = 2000
    lines = ["func @f(%x: f64[4]) -> (f64[4]) {", "  %0 = neg(%x) : f64[4]"]
    lines += [f"  %{i} = mul(%{i - 1}, %x) : f64[4]" for i in range(1, n)]
    exe = compile_cpu(parse("\n".join([*lines, f"  return %{n - 1}", "}"])))
    assert exe.num_kernels == 1
    x = np.array([1.0, -1.0, 1.0000001, 0.0])
    np.testing.assert_allclose(exe(x)[0], -(x ** n), rtol=1e-9)
