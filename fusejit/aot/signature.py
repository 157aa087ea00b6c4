"""The C-level signature of an AOT-compiled graph: names, C types, shapes and symbolic dims.

It is computed once from the graph at compile time, written next to the library as JSON
(``<name>.json``), and read back by the ctypes loader, which therefore needs neither the IR
nor the compiler. Names are made valid, distinct C identifiers here, once, so the header, the
C wrapper and the loader agree on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

C_TYPES = {
    "bool": "bool", "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
    "u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t",
    "f16": "uint16_t",  # IEEE binary16 bits: C has no portable half type
    "f32": "float", "f64": "double",
}
NUMPY_DTYPES = {
    "bool": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8",
    "u16": "uint16", "u32": "uint32", "u64": "uint64", "f16": "float16", "f32": "float32", "f64": "float64",
}
C_KEYWORDS = frozenset("""
    auto bool break case char const continue default do double else enum extern float for goto if inline int
    long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
    while int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t size_t NULL true false
""".split())
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class AotError(ValueError):
    """A graph or option that cannot be compiled ahead of time; the message says why."""


@dataclass(frozen=True)
class Tensor:
    name: str  # a C identifier
    dtype: str  # IR short name: f32, i64, ...
    shape: tuple[int | str, ...]  # ints, or names of symbolic dims (entries of Signature.dims)

    @property
    def ctype(self) -> str:
        return C_TYPES[self.dtype]

    @property
    def numpy_dtype(self) -> str:
        return NUMPY_DTYPES[self.dtype]

    def shape_text(self) -> str:
        return "[" + ", ".join(str(d) for d in self.shape) + "]"


@dataclass(frozen=True)
class Signature:
    name: str  # library name: lib<name>.so, <name>.h, prefix of every C symbol
    dims: tuple[str, ...]  # symbolic dims in argument order (C identifiers)
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    target_cpu: str = "x86-64-v3"

    @property
    def max_rank(self) -> int:
        return max((len(t.shape) for t in (*self.inputs, *self.outputs)), default=0)

    def to_json(self) -> str:
        return json.dumps({"format": 1, **asdict(self)}, indent=1)

    @staticmethod
    def from_json(text: str) -> Signature:
        d: dict[str, Any] = json.loads(text)
        if d.pop("format", None) != 1:
            raise ValueError("unsupported AOT manifest format")
        tensors = lambda ts: tuple(Tensor(t["name"], t["dtype"], tuple(t["shape"])) for t in ts)  # noqa: E731
        return Signature(d["name"], tuple(d["dims"]), tensors(d["inputs"]), tensors(d["outputs"]), d["target_cpu"])


def check_library_name(name: str) -> str:
    if not _NAME_RE.match(name) or name in C_KEYWORDS:
        raise AotError(f"library name {name!r} must be a C identifier (letters, digits, underscores)")
    return name


def c_identifiers(names: list[str], taken: set[str]) -> list[str]:
    """Each name as a valid C identifier, distinct from each other, from ``taken`` and from C keywords."""
    out: list[str] = []
    for raw in names:
        name = re.sub(r"[^A-Za-z0-9_]", "_", raw) or "_"
        if name[0].isdigit():
            name = "_" + name
        base, k = name, 1
        while name in taken or name in C_KEYWORDS:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        out.append(name)
    return out


def signature_of(graph: Any, name: str, target_cpu: str = "x86-64-v3",
                 output_names: Sequence[str] | None = None) -> Signature:
    """The C signature of ``graph`` (an ``ir.Graph``): dims first, then inputs, then outputs
    (named ``out``/``out<i>``, or after ``output_names``, e.g. a GraphDef's fetches)."""
    from ..ir.dtypes import short_name
    from ..ir.printer import input_names

    check_library_name(name)
    symbols = graph.symbols()
    taken = {f"{name}_{s}" for s in ("run", "run_buffers", "output_shape", "output_nbytes", "status_message")}
    dims = c_identifiers(symbols, taken)
    rename = dict(zip(symbols, dims))
    in_names = c_identifiers(input_names(graph), taken)
    if output_names is not None and len(output_names) != len(graph.outputs):
        raise AotError(f"{len(output_names)} output name(s) for {len(graph.outputs)} output(s)")
    default = ["out" if len(graph.outputs) == 1 else f"out{i}" for i in range(len(graph.outputs))]
    out_names = c_identifiers(list(output_names) if output_names is not None else default, taken | set(in_names))

    def tensor(cname: str, node: Any) -> Tensor:
        return Tensor(cname, short_name(node.dtype), tuple(rename[d] if isinstance(d, str) else d for d in node.shape))

    for node in graph.outputs:
        unbound = [d for d in node.shape if isinstance(d, str) and d not in rename]
        if unbound:
            raise AotError(f"output dim(s) {unbound} are not dims of any input")
    return Signature(name, tuple(dims), tuple(tensor(n, x) for n, x in zip(in_names, graph.inputs)),
                     tuple(tensor(n, x) for n, x in zip(out_names, graph.outputs)), target_cpu)
