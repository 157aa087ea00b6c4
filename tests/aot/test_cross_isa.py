"""The other ISA, whichever machine this runs on: programs compiled (not run) for x86-64-v3 (AVX2)
and for x86-64-v4 (AVX-512), so an AVX2-only CI still builds AVX-512 code and an AVX-512 one
still builds AVX2 code. Each object must assemble, keep to its ISA, and split a cache line's
non-temporal store into as many stores as that ISA's registers need."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fusejit.aot.program import emit_program
from fusejit.codegen.cpu.streaming import LINE, STREAM_MIN_BYTES
from fusejit.ir import parse
from tests.cpu_graphs import CHAIN, LAYERNORM, MLP, SOFTMAX
from tests.isa import REGISTER

TARGETS = {"x86-64-v3": 32, "x86-64-v4": 64}  # widest vector register (bytes) each level guarantees
VECTOR_MATH = """func @vm(%x: f32[N], %y: f64[N]) -> (f32[N], f64[N]) {
  %0 = sin(%x) : f32[N]
  %1 = tanh(%y) : f64[N]
  return %0, %1
}"""
STREAMED = CHAIN.replace("[N]", f"[{STREAM_MIN_BYTES // 4}]")  # one output large enough to stream
PROGRAMS = {"softmax": SOFTMAX, "layernorm": LAYERNORM, "mlp": MLP, "vector_math": VECTOR_MATH, "streamed": STREAMED}

pytestmark = pytest.mark.skipif(not shutil.which("objdump"), reason="binutils not installed")


def disassemble(tmp_path: Path, obj: bytes) -> str:
    path = tmp_path / "program.o"
    path.write_bytes(obj)
    return subprocess.run(["objdump", "-dr", "--no-show-raw-insn", str(path)], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("cpu", list(TARGETS))
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program_compiles_for_the_other_isa(tmp_path: Path, cpu: str, name: str) -> None:
    program = emit_program(parse(PROGRAMS[name]), "p", "p", cpu, threads=2)
    asm = disassemble(tmp_path, program.object_code)
    assert program.isa == {"x86-64-v3": "avx2", "x86-64-v4": "avx512"}[cpu]
    assert "<p>:" in asm and "%ymm" in asm
    if TARGETS[cpu] < 64:  # no AVX-512 register (zmm, ymm16-31) or mask register may appear
        assert not re.search(r"%zmm|%[xy]mm(1[6-9]|2\d|3[01])\b|%k[0-7]\b", asm), name
    if name == "vector_math":
        assert re.search(r"_ZGV[de]N\d+v_sinf", asm) and re.search(r"_ZGV[de]N\d+v_tanh", asm)
    if name == "streamed":  # the line loop is not unrolled: one line, split into registers
        stores = re.findall(r"vmovntps\s+%(\wmm)\d+", asm)
        assert stores == [REGISTER[TARGETS[cpu]]] * (LINE // TARGETS[cpu])
