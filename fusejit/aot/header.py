"""``<name>.h``: the documented C API of an AOT-compiled graph (generated from its Signature)."""

from __future__ import annotations

from .signature import Signature

STATUS = [  # (suffix, value, message); the wrapper's status_message() uses the same table
    ("OK", 0, "success"),
    ("ERROR_BAD_DIMS", 1, "dims is NULL, a dimension is negative, or a buffer size would overflow int64_t"),
    ("ERROR_NULL_BUFFER", 2, "a NULL pointer was passed for a non-empty buffer"),
    ("ERROR_BAD_INDEX", 3, "output index out of range"),
    ("ERROR_OUT_OF_MEMORY", 4, "scratch memory for intermediates could not be allocated"),
    ("ERROR_COMPUTE", 16, "the computation failed (status - 16 is the kernel's error code)"),
]


def dims_params(sig: Signature) -> str:
    return "".join(f"int64_t {d}, " for d in sig.dims)


def run_prototype(sig: Signature) -> str:
    args = [f"int64_t {d}" for d in sig.dims]
    args += [f"const {t.ctype} *{t.name}" for t in sig.inputs]
    args += [f"{t.ctype} *{t.name}" for t in sig.outputs]
    return f"int {sig.name}_run({', '.join(args) or 'void'})"


def prototypes(sig: Signature) -> list[str]:
    n = sig.name
    return [
        run_prototype(sig),
        f"int {n}_run_buffers(const int64_t *dims, void *const *buffers)",
        f"int {n}_output_shape({dims_params(sig)}int index, int64_t *shape)",
        f"int64_t {n}_output_nbytes({dims_params(sig)}int index)",
        f"const char *{n}_status_message(int status)",
    ]


def _tensor_lines(kind: str, tensors: tuple) -> list[str]:
    lines = [f" * {kind}:"]
    for i, t in enumerate(tensors):
        lines.append(f" *   [{i}] {t.name}: {t.ctype} {t.shape_text()}  (dtype {t.numpy_dtype})")
    return lines or [f" * {kind}: none"]


def generate_header(sig: Signature, libs: list[str], threads: int = 1) -> str:
    n, N = sig.name, sig.name.upper()
    run, run_buffers, shape, nbytes, message = prototypes(sig)
    dims = ", ".join(sig.dims) or "none"
    half = any(t.dtype == "f16" for t in (*sig.inputs, *sig.outputs))
    lines = [
        f"/* {n}.h: ahead-of-time compiled by fusejit for target CPU {sig.target_cpu}.",
        " *",
        f" * Link: gcc app.c -I<dir> -L<dir> -l{n}            (shared: lib{n}.so, set rpath or LD_LIBRARY_PATH)",
        f" *   or: gcc app.c -I<dir> <dir>/lib{n}.a {' '.join('-l' + lib for lib in libs)}   (static)",
        " *",
        " * Every array is dense, row-major (C order). The weights are compiled into the library.",
        f" * Symbolic dims (int64_t arguments, sizes known only at run time): {dims}.",
        *_tensor_lines("Inputs", sig.inputs),
        *_tensor_lines("Outputs (buffers allocated by the caller; see the size queries)", sig.outputs),
        *([" * float16 values are passed as their IEEE binary16 bit patterns (uint16_t)."] if half else []),
        " *",
        *([f" * Kernels over large arrays run on up to {threads} POSIX threads per call (capped at the cores",
           " * online): the calling thread and a pool of threads the library starts on the first such call",
           " * and joins when it is unloaded. Results do not depend on the number of threads.",
           " * Thread safety: the pool is the library's only mutable global state, and it is synchronized;",
           " * a call that finds it in use by another runs on its own thread. Concurrent calls are safe as",
           ] if threads > 1 else [
           " * Thread safety: the library has no mutable global state; concurrent calls are safe as"]),
        " * long as they do not write to the same output buffers. Outputs must not overlap inputs or each other.",
        " * Every function returns a status: 0 on success, else one of the codes below.",
        " */",
        f"#ifndef {N}_H",
        f"#define {N}_H",
        "",
        "#include <stdbool.h>",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        *[f"#define {N}_{suffix} {value}  /* {msg} */" for suffix, value, msg in STATUS],
        "",
        f"#define {N}_NUM_DIMS {len(sig.dims)}",
        f"#define {N}_NUM_INPUTS {len(sig.inputs)}",
        f"#define {N}_NUM_OUTPUTS {len(sig.outputs)}",
        f"#define {N}_MAX_RANK {sig.max_rank}",
        *[f"#define {N}_OUTPUT_{t.name.upper()} {i}" for i, t in enumerate(sig.outputs)],
        "",
        f"/* Run the model. Returns {N}_OK, {N}_ERROR_BAD_DIMS, {N}_ERROR_NULL_BUFFER, {N}_ERROR_OUT_OF_MEMORY or",
        f" * {N}_ERROR_COMPUTE + code (e.g. an index out of bounds); on error the outputs' contents are unspecified.",
        " * Scratch memory for intermediates is allocated and freed within the call. */",
        f"{run};",
        "",
        "/* The same, for bindings: dims[] in the order above, buffers[] = inputs then outputs. */",
        f"{run_buffers};",
        "",
        f"/* Shape of output `index` for these dims: writes its rank entries to shape[] ({N}_MAX_RANK suffice). */",
        f"{shape};",
        "",
        "/* Bytes output `index` needs for these dims; -1 if a dim is bad or the index is out of range. */",
        f"{nbytes};",
        "",
        "/* A static English description of a status code. */",
        f"{message};",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {N}_H */",
        "",
    ]
    return "\n".join(lines)
