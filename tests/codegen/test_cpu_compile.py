"""What :func:`fusejit.codegen.cpu.build_cpu_module` hands LLVM: size-optimized entry points
around speed-optimized kernels (compile time of the glue, speed of the loops)."""

from __future__ import annotations

import re

from fusejit.codegen.cpu import build_cpu_module
from fusejit.ir import parse


def _attrs(ir_text: str, name: str) -> str:
    line = next(ln for ln in ir_text.splitlines() if ln.startswith("define") and f'@"{name}"(' in ln)
    return re.sub(r"^.*\)", "", line)


def test_entry_points_are_optimized_for_size_and_kernels_are_not() -> None:
    g = parse("""func @f(%x: f32[M,N], %w: f32[N,4]) -> (f32[M,N], f32[M,4]) {
  %0 = exp(%x) : f32[M,N]
  %1 = dot(%x, %w) : f32[M,4]
  return %0, %1
}""")
    cm = build_cpu_module(g, name="fj_test")
    text = cm.llvm_ir
    assert "optsize" in _attrs(text, "fj_test") and "optsize" in _attrs(text, "fj_test_py")
    kernels = [ln for ln in text.splitlines() if ln.startswith("define") and "@\"fj" not in ln]  # not the cold fallback
    assert kernels and not any("optsize" in ln for ln in kernels)
