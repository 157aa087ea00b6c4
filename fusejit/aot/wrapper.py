"""``<name>_api.c``: the C API of ``<name>.h`` over the backend's program entry point.

The program is ``int32_t <name>__program(int64_t *args)`` with the word table of
:mod:`fusejit.codegen.cpu.abi` (input, output and scratch pointers, symbol sizes, input strides).
This wrapper is what makes it safe to call from C: it validates dims (negative sizes, int64
overflow of any buffer size), rejects NULL buffers, fills the table (the embedded weights are the
trailing inputs), allocates the scratch slots per call, maps kernel errors to status codes,
produces the outputs the program does not write itself (an output that is an input, a constant,
an element count, or a repeat of another output), and answers the output-size queries. It keeps
no mutable global state, so it is thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .header import STATUS, prototypes
from .signature import C_TYPES, Signature

ITEMSIZE = {"bool": 1, "i8": 1, "u8": 1, "i16": 2, "u16": 2, "f16": 2, "i32": 4, "u32": 4, "f32": 4,
            "i64": 8, "u64": 8, "f64": 8}
DimCode = int  # >= 0: a static size; -1-k: dims[k]


@dataclass
class Layout:
    """The program's word table and how each graph output is produced (built from the backend's ArgLayout)."""

    nwords: int
    const_words: list[int]  # word of each embedded constant (trailing program inputs)
    const_shapes: list[tuple[int, ...]]
    output_words: list[int]  # word of each output the program writes
    slot_words: list[int]
    slot_sizes: list[list[tuple[int, tuple[int, ...], int]]]  # per slot: (factor, dim indices, itemsize) options
    symbol_words: list[int]  # per Signature.dims entry
    input_stride_words: list[int]  # first stride word of each graph input, then of each constant
    # per graph output: ('out', k) | ('copy', j) | ('input', i) | ('const', k) | ('bytes', b'..') |
    # ('numel', dim codes)
    results: list[tuple] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # kernel error code -> message


def _ext(code: DimCode) -> str:
    return str(code) if code >= 0 else f"dims[{-1 - code}]"


def _codes(sig: Signature, shape: tuple[int | str, ...]) -> list[DimCode]:
    return [d if isinstance(d, int) else -1 - sig.dims.index(d) for d in shape]


def _shape_row(sig: Signature, shape: tuple[int | str, ...]) -> str:
    return "{" + ", ".join([str(c) for c in _codes(sig, shape)] + ["0"] * (max(sig.max_rank, 1) - len(shape))) + "}"


def _strides(words: int, codes: list[DimCode]) -> list[str]:
    """Row-major strides in elements (unsigned: a zero-size array may have huge partial products)."""
    if not codes:
        return []
    lines = ["    {", "        uint64_t s = 1;"]
    for j in reversed(range(len(codes))):
        lines.append(f"        args[{words + j}] = (int64_t)s;")
        if j:
            lines.append(f"        s *= (uint64_t){_ext(codes[j])};")
    return lines + ["    }"]


def _slot_bytes(layout: Layout) -> list[str]:
    lines = [f"    int64_t slot_bytes[{max(len(layout.slot_words), 1)}] = {{0}};"]
    for s, options in enumerate(layout.slot_sizes):
        for factor, dims, item in options:
            terms = "".join(f" && mul_ok(&v, dims[{d}])" for d in dims)
            lines += [f"    {{ int64_t v = {factor * item}; if (!(1{terms})) return BAD_DIMS;",
                      f"      if (v > slot_bytes[{s}]) slot_bytes[{s}] = v; }}"]
    return lines


def _result(sig: Signature, j: int, plan: tuple, n: str) -> list[str]:
    ni = len(sig.inputs)
    out, size = f"buffers[{ni + j}]", f"nbytes[{ni + j}]"
    kind, v = plan
    if kind == "out":
        return []
    if kind == "numel":
        ctype = C_TYPES[sig.outputs[j].dtype]
        prod = " * ".join(["(int64_t)1", *(_ext(c) for c in v)])
        value = f"({prod}) != 0" if ctype == "bool" else f"({ctype})({prod})"
        return [f"    *({ctype} *){out} = {value};"]
    src = {"copy": lambda: f"buffers[{ni + v}]", "input": lambda: f"buffers[{v}]",
           "const": lambda: f"{n}__const{v}", "bytes": lambda: f"{n}__lit{j}"}[kind]()
    return [f"    if ({size}) memcpy({out}, {src}, (size_t){size});"]


def _c_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def generate_wrapper(sig: Signature, layout: Layout) -> str:
    n, N = sig.name, sig.name.upper()
    tensors = (*sig.inputs, *sig.outputs)
    nt, ni, nd, ns = len(tensors), len(sig.inputs), len(sig.dims), len(layout.slot_words)
    run, run_buffers, shape_proto, nbytes_proto, message_proto = prototypes(sig)
    dims_init = "{" + ", ".join(sig.dims or ("0",)) + "}"
    buffers_init = "{" + ", ".join([f"(void *){t.name}" for t in tensors] or ["0"]) + "}"
    first_out = {v: j for j, (kind, v) in enumerate(layout.results) if kind == "out"}
    literals = [f"static const unsigned char {n}__lit{j}[] = {{{', '.join(str(x) for x in v)}}};"
                for j, (kind, v) in enumerate(layout.results) if kind == "bytes"]
    return "\n".join([
        f"/* Generated by fusejit: the C API of {n}.h over the compiled program. */",
        "#include <stdint.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        f'#include "{n}.h"',
        "",
        '#define API __attribute__((visibility("default")))',
        f"#define BAD_DIMS {N}_ERROR_BAD_DIMS",
        "",
        f"int32_t {n}__program(int64_t *args);",
        *[f"extern const unsigned char {n}__const{k}[];" for k in range(len(layout.const_words))],
        *literals,
        "",
        "/* Per tensor (inputs, then outputs): rank, item size, and dims (>= 0 static, -1-k is dims[k]). */",
        f"static const int {n}__rank[{max(nt, 1)}] = {{{', '.join(str(len(t.shape)) for t in tensors) or '0'}}};",
        f"static const int64_t {n}__itemsize[{max(nt, 1)}] = "
        f"{{{', '.join(str(ITEMSIZE[t.dtype]) for t in tensors) or '0'}}};",
        f"static const int64_t {n}__shape[{max(nt, 1)}][{max(sig.max_rank, 1)}] = "
        f"{{{', '.join(_shape_row(sig, t.shape) for t in tensors) or '{0}'}}};",
        "",
        "static int mul_ok(int64_t *v, int64_t x) { return !__builtin_mul_overflow(*v, x, v); }",
        "",
        f"static int {n}__dims_ok(const int64_t *dims) {{",
        f"    for (int k = 0; k < {nd}; k++)",
        "        if (dims[k] < 0) return 0;",
        "    return 1;",
        "}",
        "",
        "/* Bytes of tensor t (its shape into shape[] if not NULL), or -1 if the size overflows int64_t. */",
        f"static int64_t {n}__nbytes(const int64_t *dims, int t, int64_t *shape) {{",
        f"    int64_t size = {n}__itemsize[t];",
        f"    for (int i = 0; i < {n}__rank[t]; i++) {{",
        f"        int64_t e = {n}__shape[t][i];",
        "        e = e >= 0 ? e : dims[-1 - e];",
        "        if (shape) shape[i] = e;",
        "        if (!mul_ok(&size, e)) return -1;",
        "    }",
        "    return size;",
        "}",
        "",
        f"API {run_buffers} {{",
        f"    if (dims == NULL && {nd} > 0) return BAD_DIMS;",
        f"    if (buffers == NULL && {nt} > 0) return {N}_ERROR_NULL_BUFFER;",
        f"    if (!{n}__dims_ok(dims)) return BAD_DIMS;",
        f"    int64_t nbytes[{max(nt, 1)}];",
        f"    for (int t = 0; t < {nt}; t++) {{",
        f"        nbytes[t] = {n}__nbytes(dims, t, NULL);",
        "        if (nbytes[t] < 0) return BAD_DIMS;",
        f"        if (buffers[t] == NULL && nbytes[t] > 0) return {N}_ERROR_NULL_BUFFER;",
        "    }",
        *_slot_bytes(layout),
        f"    int64_t args[{layout.nwords + 1}] = {{0}};",
        *[f"    args[{i}] = (int64_t)(intptr_t)buffers[{i}];" for i in range(ni)],
        *[f"    args[{w}] = (int64_t)(intptr_t){n}__const{k};" for k, w in enumerate(layout.const_words)],
        *[f"    args[{w}] = (int64_t)(intptr_t)buffers[{ni + first_out[k]}];"
          for k, w in enumerate(layout.output_words)],
        *[f"    args[{w}] = dims[{d}];" for d, w in enumerate(layout.symbol_words)],
        *[line for t, w in zip(sig.inputs, layout.input_stride_words) for line in _strides(w, _codes(sig, t.shape))],
        *[line for shape, w in zip(layout.const_shapes, layout.input_stride_words[ni:])
          for line in _strides(w, list(shape))],
        f"    void *slots[{max(ns, 1)}] = {{0}};",
        f"    for (int s = 0; s < {ns}; s++) {{",
        "        slots[s] = aligned_alloc(64, (size_t)((slot_bytes[s] + 64 + 63) / 64 * 64));",
        "        if (!slots[s]) {",
        "            for (int r = 0; r < s; r++) free(slots[r]);",
        f"            return {N}_ERROR_OUT_OF_MEMORY;",
        "        }",
        "    }",
        *[f"    args[{w}] = (int64_t)(intptr_t)slots[{s}];" for s, w in enumerate(layout.slot_words)],
        f"    int32_t code = {n}__program(args);",
        f"    for (int s = 0; s < {ns}; s++) free(slots[s]);",
        f"    if (code != 0) return {N}_ERROR_COMPUTE + code;",
        *[line for j, plan in enumerate(layout.results) for line in _result(sig, j, plan, n)],
        f"    return {N}_OK;",
        "}",
        "",
        f"API {run} {{",
        f"    const int64_t dims[] = {dims_init};",
        f"    void *const buffers[] = {buffers_init};",
        f"    return {n}_run_buffers(dims, buffers);",
        "}",
        "",
        f"API {shape_proto} {{",
        f"    const int64_t dims[] = {dims_init};",
        f"    if (index < 0 || index >= {len(sig.outputs)}) return {N}_ERROR_BAD_INDEX;",
        f"    int64_t tmp[{max(sig.max_rank, 1)}];",
        f"    if (!{n}__dims_ok(dims) || {n}__nbytes(dims, {ni} + index, shape ? shape : tmp) < 0) return BAD_DIMS;",
        f"    return {N}_OK;",
        "}",
        "",
        f"API {nbytes_proto} {{",
        f"    const int64_t dims[] = {dims_init};",
        f"    if (index < 0 || index >= {len(sig.outputs)} || !{n}__dims_ok(dims)) return -1;",
        f"    return {n}__nbytes(dims, {ni} + index, NULL);",
        "}",
        "",
        f"API {message_proto} {{",
        *[f'    if (status == {value}) return "{msg}";' for _, value, msg in STATUS[:-1]],
        *[f'    if (status == {STATUS[-1][1] + code}) return "{_c_string(msg)}";'
          for code, msg in layout.errors.items()],
        f'    if (status > {STATUS[-1][1]}) return "{STATUS[-1][2]}";',
        '    return "unknown status";',
        "}",
        "",
    ])
