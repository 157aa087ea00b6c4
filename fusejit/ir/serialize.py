"""Saved graphs: a compact binary file (``.fjg``) and a readable text file (the IR text).

Binary layout (all integers little-endian; every offset is from the start of the file)::

    0   8  magic  b"\\x89FJG\\r\\n\\x1a\\n"  (PNG-style: catches 7-bit and newline-mangling transfers)
    8   4  u32 format version (FORMAT_VERSION)
    12  4  u32 CRC-32 of every byte of the file except these four
    16  8  u64 S: byte length of the structure text
    24  4  u32 P: number of graph parameters
    28  4  u32 K: number of constants
    32  S  structure: UTF-8 IR text of the graph with its K constants lifted to trailing
           parameters P..P+K-1 (their types give each constant's dtype and static shape)
    ... zero padding to a multiple of 64
        K x (u64 offset, u64 nbytes): where each constant's bytes are
    ... zero padding to a multiple of 64
        the constants' raw little-endian bytes in C order, each starting on a 64-byte boundary;
        the file ends with the last constant's bytes

Why the structure is IR text: one grammar, one parser and one set of hardening for both formats,
and the structure is tiny next to the weights. Why the weights are out of line: raw bytes are
exact (NaN payloads included), compact, and load as zero-copy read-only views of one buffer
instead of millions of parsed decimals. The CRC catches accidental corruption; it is not a
signature, so the loader also validates everything it reads and never allocates from a declared
size (every length is checked against the bytes actually present).

The text file is ``# fusejit graph text format 1`` followed by ``print_graph``'s output, whose
constants are printed inline in their shortest exact decimal form. It round-trips bit for bit,
except that a NaN with a payload comes back as the quiet NaN of its sign (``nan``/``-nan``).
"""

from __future__ import annotations

import math
import os
import re
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .graph import Graph, Node, rebuild
from .parser import parse
from .printer import print_graph
from .shapes import TensorType
from .verifier import verify

MAGIC = b"\x89FJG\r\n\x1a\n"
FORMAT_VERSION = 1
TEXT_HEADER = f"# fusejit graph text format {FORMAT_VERSION}"
_TEXT_HEADER_RE = re.compile(r"# fusejit graph text format (\d+)[ \t]*\Z")
_HEADER = struct.Struct("<8sIIQII")
_ENTRY = struct.Struct("<QQ")
ALIGN = 64

PathLike = str | os.PathLike[str]


class GraphFileError(ValueError):
    """A file that is not a well-formed fusejit graph; the message names the file and the fault."""

    def __init__(self, path: PathLike, what: str) -> None:
        super().__init__(f"{os.fspath(path)}: {what}")
        self.path = os.fspath(path)
        self.what = what


# ---- writing -------------------------------------------------------------------------------

def save_graph(graph: Graph, path: PathLike, text: bool = False) -> None:
    """Write ``graph`` to ``path``: binary by default, IR text with inline constants if ``text``."""
    data = dump_text(graph).encode() if text else dump_binary(graph)
    tmp = Path(f"{os.fspath(path)}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers never see a half-written file


def dump_text(graph: Graph) -> str:
    return f"{TEXT_HEADER}\n{print_graph(graph)}"


def lift_constants(graph: Graph, lift: Callable[[Node], bool] = lambda node: True) -> tuple[Graph, list[np.ndarray]]:
    """The graph with each constant node that ``lift`` selects replaced by a trailing parameter,
    and the values of those constants (the AOT compiler lifts arrays and keeps scalars inline)."""
    new: dict[int, Node] = {id(n): n for n in graph.inputs}
    lifted: list[Node] = []
    values: list[np.ndarray] = []
    for node in graph.nodes:
        if node.op == "constant" and lift(node):
            param = Node("input", (), {}, node.type, name=f"const{len(lifted)}")
            lifted.append(param)
            values.append(np.asarray(node.attrs["value"]))
            new[id(node)] = param
        else:
            new[id(node)] = Node(node.op, [new[id(a)] for a in node.args], node.attrs, node.type)
    lifted_graph = Graph([*graph.inputs, *lifted], [new[id(o)] for o in graph.outputs], graph.name)
    return lifted_graph, values


def _pad(n: int) -> int:
    return -n % ALIGN


def dump_binary(graph: Graph) -> bytes:
    lifted, values = lift_constants(graph)
    structure = print_graph(lifted).encode()
    _check_printable(graph, structure)
    pieces = [structure]
    at = _HEADER.size + len(structure)

    def align() -> None:
        nonlocal at
        pieces.append(b"\0" * _pad(at))
        at += _pad(at)

    align()
    at += _ENTRY.size * len(values)  # the table goes here, once its entries are known
    table, blobs = [], []
    for v in values:
        align()
        blobs.append(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes())
        table.append(_ENTRY.pack(at, len(blobs[-1])))
        pieces.append(blobs[-1])
        at += len(blobs[-1])
    pieces.insert(2, b"".join(table))  # after the structure and its padding
    payload = b"".join(pieces)
    header = bytearray(_HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(structure), len(graph.inputs), len(values)))
    struct.pack_into("<I", header, 12, _crc(memoryview(header + payload)))
    return bytes(header) + payload


def _crc(data: memoryview) -> int:
    """CRC-32 of the file without its CRC field (bytes 12..15)."""
    return zlib.crc32(data[16:], zlib.crc32(data[:12]))


def _check_printable(graph: Graph, structure: bytes) -> None:
    """Refuse to write a file we could not read back (e.g. a graph name that is not an identifier)."""
    try:
        ok = print_graph(parse(structure.decode())) == structure.decode()
    except ValueError as exc:
        raise ValueError(f"graph {graph.name!r} cannot be saved: its IR text does not parse ({exc})") from exc
    if not ok:
        raise ValueError(f"graph {graph.name!r} cannot be saved: its IR text does not round-trip")


# ---- reading -------------------------------------------------------------------------------

def load_graph(path: PathLike) -> Graph:
    """Read a graph saved by ``save_graph`` in either format (detected from the first bytes).

    Raises ``GraphFileError`` for anything malformed, ``OSError`` if the file cannot be read.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        buf = np.empty(size, np.uint8)  # one aligned buffer; constants are read-only views into it
        got = f.readinto(memoryview(buf))
    buf = buf[:got]
    if got >= len(MAGIC) and bytes(buf[: len(MAGIC)]) == MAGIC:
        graph = _load_binary(path, buf)
    else:
        graph = _load_text(path, bytes(buf))
    try:
        verify(graph)
    except ValueError as exc:
        raise GraphFileError(path, f"the graph is invalid: {exc}") from None
    return graph


def _parse(path: PathLike, text: str) -> Graph:
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise GraphFileError(path, f"malformed IR text: {exc}") from None


def _load_text(path: PathLike, data: bytes) -> Graph:
    if not data.strip():
        raise GraphFileError(path, "the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphFileError(path, f"not a fusejit graph file (neither the binary magic nor UTF-8 text: {exc})") \
            from None
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    m = _TEXT_HEADER_RE.match(first)
    if m and int(m.group(1)) != FORMAT_VERSION:
        raise GraphFileError(path, f"text format {m.group(1)} is not supported (this fusejit reads format "
                                   f"{FORMAT_VERSION})")
    if not m and not first.lstrip().startswith(("#", "func")):
        raise GraphFileError(path, f"not a fusejit graph file (it starts with {first[:40]!r})")
    # Leading comment lines become blank lines, so parse errors keep the file's line numbers.
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#"):
            break
        lines[i] = ""
    return _parse(path, "\n".join(lines))


def _load_binary(path: PathLike, buf: np.ndarray) -> Graph:
    size = len(buf)
    if size < _HEADER.size:
        raise GraphFileError(path, f"truncated: {size} bytes, shorter than the {_HEADER.size}-byte header")
    _, version, crc, slen, nparams, nconst = _HEADER.unpack(bytes(buf[: _HEADER.size]))
    if version != FORMAT_VERSION:
        raise GraphFileError(path, f"binary format version {version} is not supported (this fusejit reads "
                                   f"version {FORMAT_VERSION})")
    if _crc(memoryview(buf)) != crc:
        raise GraphFileError(path, "checksum mismatch: the file is truncated or corrupted")
    table_at = _HEADER.size + slen
    table_at += _pad(table_at)
    data_at = table_at + _ENTRY.size * nconst
    data_at += _pad(data_at)
    if data_at > size:
        raise GraphFileError(path, f"the header declares {slen} bytes of structure and {nconst} constants, "
                                   f"more than the file's {size} bytes hold")
    try:
        structure = bytes(buf[_HEADER.size: _HEADER.size + slen]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphFileError(path, f"the structure text is not UTF-8: {exc}") from None
    lifted = _parse(path, structure)
    if print_graph(lifted) != structure:
        raise GraphFileError(path, "the structure text is not in the canonical printed form")
    if nparams + nconst != len(lifted.inputs):
        raise GraphFileError(path, f"the header declares {nparams} parameters and {nconst} constants but the "
                                   f"structure has {len(lifted.inputs)} parameters")
    table = np.frombuffer(buf, "<u8", 2 * nconst, table_at).reshape(nconst, 2)
    values, expect = [], data_at
    for k, node in enumerate(lifted.inputs[nparams:]):
        values.append(_constant_view(path, buf, k, node.type, int(table[k, 0]), int(table[k, 1]), expect))
        expect = int(table[k, 0]) + int(table[k, 1])
        expect += _pad(expect)
    end = int(table[-1].sum()) if nconst else data_at
    if end != size:
        raise GraphFileError(path, f"{size - end} unexpected trailing bytes after the last constant" if end < size
                             else "truncated")
    return _substitute(lifted, nparams, values)


def _constant_view(path: PathLike, buf: np.ndarray, k: int, type_: TensorType, offset: int, nbytes: int,
                   expect: int) -> np.ndarray:
    """Constant ``k`` as a read-only view of ``buf``, after checking its table entry against its type."""
    if not type_.is_static:
        raise GraphFileError(path, f"constant {k} has a symbolic shape {type_}")
    want = type_.dtype.itemsize * math.prod(type_.shape)
    if nbytes != want:
        raise GraphFileError(path, f"constant {k} of type {type_} needs {want} bytes, the table says {nbytes}")
    if offset != expect or offset + nbytes > len(buf):
        raise GraphFileError(path, f"constant {k}: bytes {offset}..{offset + nbytes} are not where the layout "
                                   f"puts them (offset {expect}, file size {len(buf)})")
    arr = np.frombuffer(buf, type_.dtype.newbyteorder("<"), nbytes // type_.dtype.itemsize, offset)
    if type_.dtype.kind == "b" and np.frombuffer(buf, np.uint8, nbytes, offset).max(initial=0) > 1:
        raise GraphFileError(path, f"constant {k} is bool but holds bytes other than 0 and 1")
    if sys.byteorder == "big":
        arr = arr.astype(type_.dtype)
    arr = arr.reshape(type_.shape)
    arr.setflags(write=False)
    return arr


def _substitute(lifted: Graph, nparams: int, values: list[np.ndarray]) -> Graph:
    """Undo ``lift_constants``: trailing parameters become constant nodes holding ``values``."""
    constants = {id(param): Node("constant", (), {"value": value}, param.type)
                 for param, value in zip(lifted.inputs[nparams:], values)}
    return rebuild(lifted, replacements=constants)
