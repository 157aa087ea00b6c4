"""Saved graphs: exact round trips in both formats, and a loader that hostile bytes cannot crash."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fusejit.ir import Graph, Node, TensorType, constant, make, print_graph, verify
from fusejit.ir.dtypes import SHORT_NAMES
from fusejit.ir.serialize import MAGIC, GraphFileError, dump_binary, dump_text, lift_constants, load_graph, save_graph

FUZZ = settings(derandomize=True, max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
F32 = np.dtype(np.float32)


def inp(name: str, shape: tuple, dtype: np.dtype = F32) -> Node:
    return Node("input", (), {}, TensorType(np.dtype(dtype), shape), name=name)


def mlp() -> Graph:
    """A small classifier with symbolic batch, shared and scalar constants, and two outputs."""
    rng = np.random.default_rng(0)
    x = inp("x", ("N", 8))
    w = constant(rng.standard_normal((8, 4)).astype(np.float32))
    b = constant(rng.standard_normal(4).astype(np.float32))
    z = make("add", make("dot", x, w), make("broadcast", b, shape=["N", 4]))
    zero = make("broadcast", constant(np.float32(0)), shape=["N", 4])
    h = make("max", z, zero)
    m = make("reduce_max", h, axes=[1])
    e = make("exp", make("sub", h, make("broadcast", make("reshape", m, shape=["N", 1]), shape=["N", 4])))
    p = make("div", e, make("broadcast", make("reshape", make("reduce_sum", e, axes=[1]), shape=["N", 1]),
                            shape=["N", 4]))
    return Graph([x], [p, make("argmax", p, axis=1)], "mlp")


def constants_of(graph: Graph) -> list[np.ndarray]:
    return [n.attrs["value"] for n in graph.nodes if n.op == "constant"]


def bit_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def roundtrip(graph: Graph, tmp_path: Path, text: bool) -> Graph:
    path = tmp_path / ("g.txt" if text else "g.fjg")
    save_graph(graph, path, text=text)
    loaded = load_graph(path)
    assert print_graph(loaded) == print_graph(graph)
    return loaded


# ---- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [False, True])
def test_mlp_roundtrip_runs_identically(tmp_path: Path, text: bool) -> None:
    g = mlp()
    loaded = roundtrip(g, tmp_path, text)
    assert all(bit_equal(a, b) for a, b in zip(constants_of(g), constants_of(loaded)))
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    for want, got in zip(g.evaluate(x), loaded.evaluate(x)):
        assert bit_equal(want, got)


def test_method_and_format_detection(tmp_path: Path) -> None:
    g = mlp()
    g.save(tmp_path / "a.fjg")
    g.save(tmp_path / "a.txt", text=True)
    assert (tmp_path / "a.fjg").read_bytes().startswith(MAGIC)
    assert (tmp_path / "a.txt").read_text().startswith("# fusejit graph text format 1\nfunc @mlp(")
    assert print_graph(load_graph(tmp_path / "a.fjg")) == print_graph(load_graph(tmp_path / "a.txt"))


def test_binary_layout_is_compact_and_aligned() -> None:
    g = mlp()
    data = dump_binary(g)
    _, _, _, slen, nparams, nconst = struct.unpack_from("<8sIIQII", data)
    assert (nparams, nconst) == (1, 3)
    table_at = -(-(32 + slen) // 64) * 64
    offsets = [struct.unpack_from("<QQ", data, table_at + 16 * k) for k in range(nconst)]
    assert all(off % 64 == 0 for off, _ in offsets)
    assert offsets[0][1] == 8 * 4 * 4 and offsets[-1][0] + offsets[-1][1] == len(data)
    assert len(data) < 32 + slen + 64 + 48 + 64 + (32 * 4 + 64) + 16 + 4  # weights stored raw, little padding


def test_edge_values_and_shapes(tmp_path: Path) -> None:
    """Every dtype, 0-d and empty constants, ±0, ±inf, subnormals, extreme ints, unused and output inputs."""
    x, unused = inp("x", ("B",), np.int64), inp("unused", (2, "K"), np.float16)
    outs: list[Node] = [x]
    for dt in SHORT_NAMES:
        info = np.finfo(dt) if dt.kind == "f" else np.iinfo(dt) if dt.kind in "iu" else None
        vals = [0, 1] if info is None else [info.min, info.max, 0]
        if dt.kind == "f":
            vals += [-0.0, np.inf, -np.inf, info.smallest_subnormal, info.eps]
        outs.append(constant(np.array(vals, dtype=dt)))
        outs.append(constant(np.array(vals[-1], dtype=dt)))
        outs.append(constant(np.zeros((0, 3), dtype=dt)))
    g = Graph([x, unused], outs, "edges")
    for text in (False, True):
        loaded = roundtrip(g, tmp_path, text)
        assert [n.name for n in loaded.inputs] == ["x", "unused"]
        assert all(bit_equal(a, b) for a, b in zip(constants_of(g), constants_of(loaded)))


def test_nan_payloads_exact_in_binary_canonical_in_text(tmp_path: Path) -> None:
    weird = np.array([0x7FC00001, 0xFFC00000], dtype=np.uint32).view(np.float32)  # payload NaN, -NaN
    g = Graph([], [constant(weird)], "nans")
    assert bit_equal(constants_of(roundtrip(g, tmp_path, False))[0], weird)
    back = constants_of(roundtrip(g, tmp_path, True))[0]
    assert np.isnan(back).all() and back.dtype == np.float32
    assert back.view(np.uint32)[1] == 0xFFC00000  # the sign survives: x86's 0/0 is -nan


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_both_canonical_nans_are_bit_exact_in_text(tmp_path: Path, dtype: type) -> None:
    with np.errstate(invalid="ignore"):
        nans = np.array([np.zeros((), dtype) / np.zeros((), dtype), np.nan, -np.inf, -0.0], dtype)
    assert np.signbit(nans[0])
    assert bit_equal(constants_of(roundtrip(Graph([], [constant(nans)], "n"), tmp_path, True))[0], nans)


def test_loaded_constants_are_read_only(tmp_path: Path) -> None:
    save_graph(mlp(), tmp_path / "g.fjg")
    for v in constants_of(load_graph(tmp_path / "g.fjg")):
        assert not v.flags.writeable
        assert v.flags.aligned


def test_shared_constant_stays_shared(tmp_path: Path) -> None:
    c = constant(np.arange(3, dtype=np.float32))
    g = Graph([], [make("add", c, c), make("mul", c, constant(np.arange(3, dtype=np.float32)))], "shared")
    lifted, values = lift_constants(g)
    assert len(values) == 2 and len(lifted.inputs) == 2
    loaded = roundtrip(g, tmp_path, False)
    assert loaded.nodes[1].args[0] is loaded.nodes[1].args[1]


def test_save_refuses_unprintable_graph(tmp_path: Path) -> None:
    x = inp("x", (3,))
    g = Graph([x], [x], "not an identifier")
    with pytest.raises(ValueError, match="cannot be saved"):
        save_graph(g, tmp_path / "g.fjg")
    assert not list(tmp_path.iterdir())


@given(st.data())
@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_constants_roundtrip(tmp_path: Path, data: st.DataObject) -> None:
    dt = data.draw(st.sampled_from(list(SHORT_NAMES)))
    arr = data.draw(hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
    g = Graph([], [constant(arr), make("reshape", constant(arr), shape=[arr.size])], "rand")
    assert bit_equal(constants_of(roundtrip(g, tmp_path, False))[0], arr)
    back = constants_of(roundtrip(g, tmp_path, True))[0]
    if dt.kind == "f" and np.isnan(arr).any():
        assert np.array_equal(back, arr, equal_nan=True) and back.dtype == arr.dtype
    else:
        assert bit_equal(back, arr)


# ---- hostile files -------------------------------------------------------------------------

def write(tmp_path: Path, data: bytes | str, name: str = "bad.fjg") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def load_or_clean_error(path: Path) -> None:
    """The loader's contract on arbitrary bytes: a verified graph or a GraphFileError naming the file."""
    try:
        graph = load_graph(path)
    except GraphFileError as exc:
        assert str(exc).startswith(str(path) + ": ")
        return
    verify(graph)


def fix_crc(data: bytes | bytearray) -> bytes:
    data = bytearray(data)
    struct.pack_into("<I", data, 12, zlib.crc32(bytes(data[16:]), zlib.crc32(bytes(data[:12]))))
    return bytes(data)


def expect_error(path: Path, match: str) -> None:
    with pytest.raises(GraphFileError, match=match) as info:
        load_graph(path)
    assert str(path) in str(info.value)


def test_every_truncation_is_a_clean_error(tmp_path: Path) -> None:
    data = dump_binary(mlp())
    for n in range(len(data)):
        expect_error(write(tmp_path, data[:n]), "truncated|checksum|empty|not a fusejit")


def test_truncated_text_is_a_clean_error(tmp_path: Path) -> None:
    text = dump_text(mlp())
    for n in range(0, len(text) - 2, 7):  # the last 2 characters are "}\n"
        expect_error(write(tmp_path, text[:n], "bad.txt"), "malformed|empty|not a fusejit")


@given(st.data())
@FUZZ
def test_byte_flips_are_caught_by_the_checksum(tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray(dump_binary(mlp()))
    for i in data.draw(st.sets(st.integers(len(MAGIC), len(blob) - 1), min_size=1, max_size=4)):
        blob[i] ^= data.draw(st.integers(1, 255))
    expect_error(write(tmp_path, bytes(blob)), "checksum|version")


@given(st.data())
@FUZZ
def test_flips_with_a_valid_checksum_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    """A hostile writer recomputes the CRC: the structural checks alone must hold the line."""
    blob = bytearray(dump_binary(mlp()))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(16, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    load_or_clean_error(write(tmp_path, fix_crc(blob)))


@pytest.mark.parametrize(("field", "value", "match"), [
    (16, 2**63, "more than the file"),       # structure length
    (16, 2**64 - 1, "more than the file"),
    (24, 2**32 - 1, "parameters"),           # parameter count
    (28, 2**32 - 1, "more than the file"),   # constant count
    (8, 2, "version 2 is not supported"),
])
def test_oversized_header_fields(tmp_path: Path, field: int, value: int, match: str) -> None:
    blob = bytearray(dump_binary(mlp()))
    fmt = "<Q" if field == 16 else "<I"
    struct.pack_into(fmt, blob, field, value)
    expect_error(write(tmp_path, fix_crc(blob)), match)


def test_oversized_and_misplaced_table_entries(tmp_path: Path) -> None:
    data = dump_binary(mlp())
    slen = struct.unpack_from("<Q", data, 16)[0]
    table_at = -(-(32 + slen) // 64) * 64
    for delta, match in [((2**64 - 64, None), "not where the layout"), ((None, 2**63), "needs 128 bytes"),
                         ((None, 127), "needs 128 bytes"), ((64, None), "not where the layout")]:
        blob = bytearray(data)
        off, n = struct.unpack_from("<QQ", blob, table_at)
        struct.pack_into("<QQ", blob, table_at, off if delta[0] is None else (off + delta[0]) % 2**64,
                         n if delta[1] is None else delta[1])
        expect_error(write(tmp_path, fix_crc(blob)), match)


def test_trailing_garbage(tmp_path: Path) -> None:
    expect_error(write(tmp_path, fix_crc(dump_binary(mlp()) + b"\0" * 64)), "trailing bytes")


def hostile_binary(structure: str, nparams: int, blobs: list[bytes]) -> bytes:
    """A binary file with the given structure text and constants, laid out as the writer would."""
    s = structure.encode()
    at = -(-(32 + len(s)) // 64) * 64
    table, body, pos = b"", b"", -(-(at + 16 * len(blobs)) // 64) * 64
    start = pos
    for b in blobs:
        table += struct.pack("<QQ", pos, len(b))
        body += b + b"\0" * (-len(b) % 64)
        pos += len(b) + (-len(b) % 64)
    payload = s + b"\0" * (at - 32 - len(s)) + table + b"\0" * (start - at - len(table)) + body
    payload = payload[: len(payload) - (-len(blobs[-1]) % 64)] if blobs else payload
    return fix_crc(struct.pack("<8sIIQII", MAGIC, 1, 0, len(s), nparams, len(blobs)) + payload)


def test_hostile_binary_helper_matches_the_writer() -> None:
    g = mlp()
    lifted, values = lift_constants(g)
    assert hostile_binary(print_graph(lifted), 1, [v.tobytes() for v in values]) == dump_binary(g)


def test_absurd_constant_shape_does_not_allocate(tmp_path: Path) -> None:
    s = "func @f(%c: f32[1000000000,1000000000,1000000]) -> (f32[1000000000,1000000000,1000000]) {\n  return %c\n}\n"
    expect_error(write(tmp_path, hostile_binary(s, 0, [b"\0" * 64])), "needs 4000000000000000000000000 bytes")
    text = "func @f() -> (f32[1000000000,1000000000]) {\n  %0 = constant {value=1.0} : f32[1000000000,1000000000]\n" \
           "  return %0\n}\n"
    expect_error(write(tmp_path, text, "bad.txt"), "malformed IR text")


def test_bool_constant_with_bad_bytes(tmp_path: Path) -> None:
    s = "func @f(%c: bool[2]) -> (bool[2]) {\n  return %c\n}\n"
    assert load_graph(write(tmp_path, hostile_binary(s, 0, [b"\x01\x00"]))).outputs[0].op == "constant"
    expect_error(write(tmp_path, hostile_binary(s, 0, [b"\x01\x02"])), "bool but holds bytes")


def test_symbolic_constant_and_noncanonical_structure(tmp_path: Path) -> None:
    s = "func @f(%c: f32[N]) -> (f32[N]) {\n  return %c\n}\n"
    expect_error(write(tmp_path, hostile_binary(s, 0, [b""])), "symbolic shape")
    s = "func @f(%c: f32[1])  -> (f32[1]) {\n  return %c\n}\n"
    expect_error(write(tmp_path, hostile_binary(s, 0, [b"\0" * 4])), "canonical")


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"),
    ("\xff\xfe garbage", "not a fusejit graph file"),
    ("hello world", "not a fusejit graph file"),
    ("# fusejit graph text format 7\nfunc @f() -> () {\n  return\n}\n", "format 7 is not supported"),
    ("func @f(%x: c64[3]) -> (c64[3]) {\n  return %x\n}\n", "unknown dtype 'c64'"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = frobnicate(%x) : f32[3]\n  return %0\n}\n", "unknown op"),
    ("func @f(%x: f32[-3]) -> (f32[3]) {\n  return %x\n}\n", "expected a dim"),
    ("func @f(%x: f32[3", "expected"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%y) : f32[3]\n  return %0\n}\n", "before it is defined"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%x) : f64[3]\n  return %0\n}\n", "declared"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%x, %x) : f32[3]\n  return %0\n}\n", "invalid"),
    ("func @f() -> (u8[]) {\n  %0 = constant {value=300} : u8[]\n  return %0\n}\n", "malformed"),
    ("func @f() -> (f32[2]) {\n  %0 = constant {value=[1.0, [2.0]]} : f32[2]\n  return %0\n}\n", "malformed"),
    ("func @f() -> (f32[]) {\n  %0 = constant : f32[]\n  return %0\n}\n", "malformed"),
    ("func @f(%x: f32[2,3]) -> (f32[3]) {\n  %0 = concat(%x) {axis=9} : f32[3]\n  return %0\n}\n", "malformed"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = cast(%x) {dtype=[1]} : f32[3]\n  return %0\n}\n", "malformed"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%x) {k=" + "[" * 5000 + "} : f32[3]\n  return %0\n}\n",
     "nested deeper"),
    ("func @f(%x: f32[" + "9" * 5000 + "]) -> () {\n  return %x\n}\n", "malformed"),
])
def test_malformed_text(tmp_path: Path, text: str, match: str) -> None:
    raw = text.encode("latin-1") if text.startswith("\xff") else text.encode()
    expect_error(write(tmp_path, raw, "bad.txt"), match)


TEXT_ALPHABET = st.sampled_from(list("%@()[]{},:=-> \n0123456789abcfinu.\"#") + ["nan", "inf", "f32", "N",
                                                                                    "constant", "neg", "return"])


@given(st.data())
@FUZZ
def test_mutated_text_never_crashes(tmp_path: Path, data: st.DataObject) -> None:
    text = dump_text(mlp())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 12)))
        text = text[:i] + "".join(data.draw(st.lists(TEXT_ALPHABET, max_size=4))) + text[j:]
    load_or_clean_error(write(tmp_path, text, "bad.txt"))


@given(st.binary(max_size=300))
@FUZZ
def test_random_bytes_never_crash(tmp_path: Path, blob: bytes) -> None:
    load_or_clean_error(write(tmp_path, blob))
    load_or_clean_error(write(tmp_path, MAGIC + blob))
    load_or_clean_error(write(tmp_path, fix_crc(MAGIC + blob) if len(blob) >= 24 else MAGIC + blob))


def test_large_text_parses_in_linear_time(tmp_path: Path) -> None:
    """20k nodes: quadratic tokenizing used to take ~20 s here; linear takes well under one."""
    body = "".join(f"  %{i} = neg(%{i - 1 if i else 'x'}) : f32[3]\n" for i in range(20000))
    path = write(tmp_path, "func @f(%x: f32[3]) -> (f32[3]) {\n" + body + "  return %19999\n}\n", "big.txt")
    assert len(load_graph(path).nodes) == 20000


def test_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_graph(tmp_path / "nope.fjg")
