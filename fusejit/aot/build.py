"""``fusejit.aot.compile``: a frozen graph -> ``lib<name>.so``, ``lib<name>.a``, ``<name>.h``, ``<name>.json``.

Steps: every array constant is lifted to a trailing program parameter (scalars stay inline as
immediates); the CPU backend compiles the lifted graph into one relocatable object defining
``<name>__program`` for the requested CPU; the weights become a read-only data object built
from ``.incbin`` directives (exact bytes, 64-byte aligned, no multi-megabyte C literals); the
generated C wrapper provides the documented API. ``gcc`` links them into a shared library that
exports only the API (a version script hides everything else) and ``ar`` packs the same objects
into a static archive. The shared library's dependencies are then checked with ``readelf``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import Graph, verify
from ..ir.serialize import lift_constants
from .header import generate_header, prototypes
from .program import emit_program
from .runtime_c import gemm_source
from .signature import AotError, Signature, signature_of
from .wrapper import Layout, generate_wrapper

# What a library may need at run time: the C runtime, libm, glibc's vector math, threads.
ALLOWED_NEEDED = frozenset({"libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0"})


def compile(graph: Graph, out_dir: str | os.PathLike[str], name: str, target_cpu: str = "x86-64-v3",
            threads: int = 1, cc: str = "gcc", output_names: Sequence[str] | None = None) -> Path:
    """Compile ``graph`` ahead of time into ``out_dir``; returns the directory.

    ``target_cpu`` is a CPU name LLVM and gcc both know (``x86-64-v3`` by default: AVX2/FMA, any
    x86 from 2015 on; ``x86-64-v4``, ``znver4``, ...) or ``native``. The library needs nothing but
    libc and libm (and libmvec if the program calls vector math). ``threads > 1`` lets kernels over
    large arrays use up to that many threads per call (capped at the cores online): the caller and
    the library's own pool of POSIX threads, started on the first such call.
    """
    verify(graph)
    if any(n.op in ("conv2d", "conv2d_backprop_filter") for n in graph.nodes):  # the kernels' operand layouts
        from ..codegen.cpu.conv_operands import prepare_conv_operands
        from .program import vector_isa

        graph = prepare_conv_operands(graph, vector_isa(target_cpu))
    sig = signature_of(graph, name, target_cpu, output_names)
    lifted, values = lift_constants(graph, lambda node: node.ndim > 0)
    program = emit_program(lifted, f"{name}__program", name, target_cpu, threads)
    if target_cpu == "native":
        sig = dataclasses.replace(sig, target_cpu=f"native ({program.cpu})")
    layout = program_layout(graph, lifted, len(values), sig, program.layout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fusejit-aot-{name}-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "program.o").write_bytes(program.object_code)
        libs = link_libraries(tmp / "program.o")
        (out / f"{name}.h").write_text(generate_header(sig, libs, threads if program.threaded else 1))
        (tmp / "api.c").write_text(generate_wrapper(sig, layout))
        (tmp / "gemm.c").write_text(gemm_source(name, program.gemms))
        (tmp / "weights.S").write_text(weights_assembly(name, values, tmp))
        cflags = ["-O2", "-fPIC", "-fvisibility=hidden", "-std=c11", "-Wall", "-Werror"]
        run([cc, "-c", *cflags, f"-I{out}", str(tmp / "api.c"), "-o", str(tmp / "api.o")])
        run([cc, "-c", *cflags, "-O3", "-ffp-contract=fast", f"-march={target_cpu}", str(tmp / "gemm.c"), "-o",
             str(tmp / "gemm.o")])
        run([cc, "-c", "-fPIC", str(tmp / "weights.S"), "-o", str(tmp / "weights.o")])
        objects = [str(tmp / f) for f in ("api.o", "gemm.o", "weights.o", "program.o")]
        (tmp / "exports.map").write_text(version_script(sig))
        so, archive = out / f"lib{name}.so", out / f"lib{name}.a"
        run([cc, "-shared", f"-Wl,-soname,{so.name}", "-o", str(tmp / so.name), *objects,
             f"-Wl,--version-script={tmp / 'exports.map'}", "-Wl,--no-undefined", "-Wl,-z,noexecstack",
             "-Wl,--as-needed", *(f"-l{lib}" for lib in libs)])
        run(["ar", "rcs", str(tmp / archive.name), *objects])
        check_needed(tmp / so.name)
        for f in (so, archive):
            os.replace(tmp / f.name, f)  # replaced atomically: a loaded library is never overwritten
    (out / f"{name}.json").write_text(sig.to_json())
    return out


def program_layout(graph: Graph, lifted: Graph, nconst: int, sig: Signature, args: Any) -> Layout:
    """The wrapper's view of the backend's ArgLayout ``args`` for the lifted graph."""
    from ..codegen.cpu.abi import ERRORS

    ni = len(graph.inputs)
    consts = lifted.inputs[ni:]
    symbol_index = {s: k for k, s in enumerate(lifted.symbols())}
    slot_words = [len(lifted.inputs) + len(args.output_nodes) + s for s in range(len(args.slots))]
    direct = {id(node): k for k, node in enumerate(args.output_nodes)}
    results: list[tuple] = []
    first: dict[int, int] = {}
    for j, (orig, node) in enumerate(zip(graph.outputs, lifted.outputs)):
        if id(node) in direct:
            k = direct[id(node)]
            results.append(("copy", first[k]) if k in first else ("out", k))
            first.setdefault(k, j)
        elif node.op == "input":
            i = next(i for i, x in enumerate(lifted.inputs) if x is node)
            results.append(("input", i) if i < ni else ("const", i - ni))
        elif node.op == "constant":
            results.append(("bytes", np.ascontiguousarray(orig.attrs["value"]).astype(
                orig.dtype.newbyteorder("<")).tobytes()))
        elif node.op == "numel":
            if node.dtype.kind == "f" and node.dtype.itemsize == 2:
                raise AotError(f"output {j} is a float16 element count, which the C wrapper cannot produce")
            operand = node.args[0].shape
            results.append(("numel", [d if isinstance(d, int) else -1 - symbol_index[d]
                                      for d in (operand[a] for a in node.attrs["axes"])]))
        else:
            raise AotError(f"output {j} ({node.op}) is neither computed by the program nor a source")
    return Layout(
        nwords=args.nwords,
        const_words=[args.word[id(c)] for c in consts],
        const_shapes=[tuple(c.shape) for c in consts],
        output_words=[args.word[id(o)] for o in args.output_nodes],
        slot_words=slot_words,
        slot_sizes=[[(size.factor, tuple(symbol_index[x] for x in size.syms), item) for size, item in slot.sizes]
                    for slot in args.slots],
        symbol_words=[args.symbol_word[s] for s in lifted.symbols()],
        input_stride_words=[args.stride_word[id(x)] for x in lifted.inputs],
        results=results,
        errors={code: msg.replace("{", "<").replace("}", ">") for code, (_, msg) in ERRORS.items()},
    )


def run(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise AotError(f"{cmd[0]} is needed to build AOT libraries but was not found ({exc})") from None
    if proc.returncode:
        raise AotError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def link_libraries(obj: Path) -> list[str]:
    """The system libraries the program object needs (``-l`` names), from its undefined symbols."""
    undefined = set(re.findall(r"^\s*U (\S+)", run(["nm", "-u", str(obj)]), re.M))
    libs = ["mvec"] if any(s.startswith("_ZGV") for s in undefined) else []
    libs.append("m")
    if any(s.startswith("pthread_") for s in undefined):
        libs.append("pthread")
    return libs


def weights_assembly(name: str, values: list[np.ndarray], tmp: Path) -> str:
    """GNU assembler source embedding each constant's little-endian bytes as ``<name>__const<k>``."""
    lines = ['\t.section .note.GNU-stack,"",@progbits']
    for k, v in enumerate(values):
        blob = tmp / f"const{k}.bin"
        blob.write_bytes(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes())
        sym = f"{name}__const{k}"
        lines += [f'\t.section .rodata.{sym},"a",@progbits', "\t.balign 64", f"\t.globl {sym}",
                  f"\t.hidden {sym}", f"\t.type {sym}, @object", f"\t.size {sym}, {v.nbytes}", f"{sym}:",
                  f'\t.incbin "{blob}"']
    return "\n".join(lines) + "\n"


def version_script(sig: Signature) -> str:
    exported = [re.search(r"(\w+)\(", p).group(1) for p in prototypes(sig)]  # type: ignore[union-attr]
    return "{\n  global: " + "; ".join(exported) + ";\n  local: *;\n};\n"


def needed_libraries(so: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", str(so)]))


def check_needed(so: Path) -> None:
    extra = sorted(set(needed_libraries(so)) - ALLOWED_NEEDED)
    if extra:
        raise AotError(f"{so.name} would depend on {', '.join(extra)}; an AOT library may only need "
                       f"{', '.join(sorted(ALLOWED_NEEDED))}")


def toolchain_available(cc: str = "gcc") -> bool:
    return all(shutil.which(t) for t in (cc, "ar", "nm", "readelf"))
