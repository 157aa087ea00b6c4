"""What vector code to expect from a target, so tests that read generated code hold on every x86-64.

Two widths matter and they differ on many CPUs: the widest *legal* vector register (64 bytes with
AVX-512F, 32 with AVX, 16 otherwise), which decides how LLVM splits an explicit vector operation
such as a cache line's non-temporal store; and the width LLVM's *loop vectorizer* picks, which also
follows the CPU's tuning (Ice Lake, Sapphire Rapids and x86-64-v4 have AVX-512 yet prefer 256-bit
loops; Zen 4 takes 512). The first is read from the features, the second measured by vectorizing
a probe loop with the very target machine the code under test uses.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import llvmlite.binding as llvm

REGISTER = {64: "zmm", 32: "ymm", 16: "xmm"}  # assembly register prefix per vector width (bytes)
LIBMVEC_ABI = {64: "e", 32: "d", 16: "b"}  # glibc vector-function ABI letter per vector width

_PROBE = r"""
define void @probe(ptr noalias %x, ptr noalias %out, i64 %n) {
entry:
  %any = icmp sgt i64 %n, 0
  br i1 %any, label %body, label %done
body:
  %i = phi i64 [0, %entry], [%next, %body]
  %p = getelementptr float, ptr %x, i64 %i
  %v = load float, ptr %p
  %w = fmul float %v, 2.0
  %q = getelementptr float, ptr %out, i64 %i
  store float %w, ptr %q
  %next = add i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %body, label %done
done:
  ret void
}
"""


def register_bytes(features: Mapping[str, bool] | str) -> int:
    """Widest legal vector register for ``features`` (a feature map or a ``"+avx2,-avx512f"`` string)."""
    if isinstance(features, str):
        on = {f[1:] for f in features.split(",") if f.startswith("+")}
    else:
        on = {k for k, v in features.items() if v}
    if "avx512f" in on:
        return 64
    return 32 if "avx" in on else 16


def loop_vector_bytes(tm: Any) -> int:
    """Bytes per vector the loop vectorizer uses for a plain float32 loop on target machine ``tm``."""
    from fusejit.runtime.engine import optimize

    mod = llvm.parse_assembly(_PROBE)
    mod.triple = llvm.get_process_triple()
    optimize(mod, tm)
    lanes = [int(n) for n in re.findall(r"<(\d+) x float>", str(mod))]
    return 4 * max(lanes, default=1)


def cpu_target_machine(cpu: str, features: str = "") -> Any:
    """An O3 target machine for a named CPU (for compile-only checks of a CPU this host need not be)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(cpu=cpu, features=features, opt=3)


@functools.cache
def host_register_bytes() -> int:
    """Widest legal vector register of the CPU the JIT compiles for."""
    from fusejit.runtime.engine import host

    return register_bytes(host()[2])


@functools.cache
def host_loop_vector_bytes() -> int:
    """Bytes per vector of the JIT's vectorized loops on this machine."""
    from fusejit.runtime.engine import target_machine

    return loop_vector_bytes(target_machine())
