"""Frozen GraphDefs made by TensorFlow (tests/tf/make_fixtures.py) imported without TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("google.protobuf")
import fusejit  # noqa: E402
import fusejit.tf as ftf  # noqa: E402
from fusejit.tf.importer import GraphDefFunction  # noqa: E402
from fusejit.tf.proto import GraphDef  # noqa: E402

FIXTURES = Path(__file__).with_name("fixtures")
NAMES = ["softmax_regression", "deep_mnist_bn", "keras_mlp", "text_classifier", "ops_zoo"]


def fixture(name: str) -> tuple[Path, list[str], list[str], dict[str, np.ndarray]]:
    data = dict(np.load(FIXTURES / f"{name}.npz"))
    ins = [k[3:] for k in data if k.startswith("in:")]
    outs = [k[4:] for k in data if k.startswith("out:")]
    return FIXTURES / f"{name}.pb", ins, outs, data


def check(got: object, outs: list[str], data: dict[str, np.ndarray]) -> None:
    got = got if isinstance(got, tuple) else (got,)
    for name, g in zip(outs, got, strict=True):
        want = data[f"out:{name}"]
        assert np.asarray(g).dtype == want.dtype and np.shape(g) == want.shape, name
        if want.dtype.kind == "f":
            np.testing.assert_allclose(g, want, rtol=2e-5, atol=2e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(g, want, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_import_matches_tensorflow(name: str) -> None:
    path, ins, outs, data = fixture(name)
    # ops_zoo reverses its batch axis (x[::-1]), which needs a static size: feed shapes given
    shapes = {i: data[f"in:{i}"].shape for i in ins} if name == "ops_zoo" else None
    f = ftf.jit(path, ins, outs, input_shapes=shapes)
    check(f(*[data[f"in:{i}"] for i in ins]), outs, data)


@pytest.mark.parametrize("name", NAMES)
def test_eager_interpreter_matches_tensorflow(name: str) -> None:
    path, ins, outs, data = fixture(name)
    fn = GraphDefFunction(ftf.read_graphdef(path), ins, outs)
    check(fn(*[data[f"in:{i}"] for i in ins]), outs, data)


@pytest.mark.parametrize("name", ["softmax_regression", "keras_mlp", "ops_zoo"])
def test_text_format_reads_as_the_binary(name: str) -> None:
    text, binary = ftf.read_graphdef(FIXTURES / f"{name}.pbtxt"), ftf.read_graphdef(FIXTURES / f"{name}.pb")
    assert [(n.name, n.op, list(n.input)) for n in text.node] == [(n.name, n.op, list(n.input)) for n in binary.node]


def test_unknown_batch_dim_is_symbolic() -> None:
    path, ins, outs, data = fixture("deep_mnist_bn")
    graph = ftf.load_graphdef(path, ins, outs)
    assert graph.inputs[0].shape[1] == 784 and isinstance(graph.inputs[0].shape[0], str)
    assert not any(n.op == "input" and n.shape == (784, 128) for n in graph.inputs)  # weights are constants
    f = ftf.jit(path, ins, outs)
    x = data["in:input:0"]
    one = f(x[:1])[0]
    np.testing.assert_allclose(one, data["out:softmax:0"][:1], rtol=2e-5, atol=2e-6)
    assert f(np.concatenate([x] * 4))[0].shape == (12, 10)


def test_fetch_defaults_and_feed_names() -> None:
    path, _, _, data = fixture("softmax_regression")
    fn = GraphDefFunction(ftf.read_graphdef(path))
    assert fn.arg_names == ["input"] and fn.output_names == ["prediction:0"]  # softmax feeds ArgMax


def test_frozen_graph_compiles_ahead_of_time_and_matches(tmp_path: Path) -> None:
    from fusejit import aot

    path, ins, outs, data = fixture("softmax_regression")
    graph = ftf.load_graphdef(path, ins, ["softmax:0"])
    aot.compile(graph, tmp_path, name="mnist")
    header = (tmp_path / "mnist.h").read_text()
    assert "input" in header
    got = aot.load(tmp_path)(data["in:input:0"])
    np.testing.assert_allclose(got, data["out:softmax:0"], rtol=2e-5, atol=2e-6)


# ---- errors -------------------------------------------------------------------------------------


def test_unsupported_ops_are_all_listed_at_once(tmp_path: Path) -> None:
    g = ftf.read_graphdef(FIXTURES / "softmax_regression.pb")
    for node in g.node:
        if node.op in ("Softmax", "MatMul"):
            node.op = {"Softmax": "FancySoftmax", "MatMul": "WeirdMatMul"}[node.op]
    with pytest.raises(ftf.TFImportError, match=r"FancySoftmax \(softmax\).*WeirdMatMul"):
        GraphDefFunction(g, ["input:0"], ["softmax:0"])


def test_training_nodes_and_bad_names_are_refused() -> None:
    g = ftf.read_graphdef(FIXTURES / "softmax_regression.pb")
    with pytest.raises(ftf.TFImportError, match="no node named 'nope'"):
        GraphDefFunction(g, ["input:0"], ["nope:0"])
    w = next(n for n in g.node if n.name == "W")
    w.op = "VariableV2"
    with pytest.raises(ftf.TFImportError, match="training-only nodes.*W"):
        GraphDefFunction(g, ["input:0"], ["softmax:0"])


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff" * 10, b"node { name: 'x' op: 'Const' }"])
def test_garbage_files_are_clear_errors(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.pb"
    p.write_bytes(content)
    with pytest.raises(ftf.GraphDefFileError, match=str(p)):
        ftf.load_graphdef(p)


_GOOD = (FIXTURES / "softmax_regression.pb").read_bytes()


@given(st.integers(0, len(_GOOD) - 1), st.integers(0, 7), st.booleans())
def test_truncated_and_bit_flipped_files_never_crash(pos: int, bit: int, truncate: bool) -> None:
    data = _GOOD[:pos] if truncate else _GOOD[:pos] + bytes([_GOOD[pos] ^ (1 << bit)]) + _GOOD[pos + 1:]
    graph = GraphDef()
    try:
        graph.ParseFromString(data)
    except Exception:
        return  # protobuf refuses it: read_graphdef turns that into GraphDefFileError (tested above)
    try:
        fn = GraphDefFunction(graph, ["input:0"], ["softmax:0"])
        fn(np.zeros((2, 784), np.float32))
    except (ftf.TFImportError, fusejit.TracingError, ValueError, TypeError):
        pass  # a clear error naming the node; never a crash or an IndexError deep inside


def test_gather_nd_from_a_handwritten_graphdef() -> None:
    """GatherNd (indices' last axis indexes params' leading axes), with a traced params and constant
    indices, and with constant params and traced indices: a GraphDef built without TensorFlow."""
    from fusejit.tf.proto import NodeDef
    from fusejit.tf.tensors import from_numpy

    def graph(params_placeholder: bool) -> GraphDef:
        g = GraphDef()
        table = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        idx = np.array([[0, 2], [1, 0], [1, 2]], np.int32)
        fed, const, fed_dtype = ("p", "i", 1) if params_placeholder else ("i", "p", 3)
        ph = NodeDef(name=fed, op="Placeholder")
        ph.attr["dtype"].type = fed_dtype
        c = NodeDef(name=const, op="Const")
        c.attr["value"].tensor.CopyFrom(from_numpy(idx if params_placeholder else table))
        out = NodeDef(name="out", op="GatherNd", input=["p", "i"])
        g.node.extend([ph, c, out])
        return g

    table = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    idx = np.array([[0, 2], [1, 0], [1, 2]], np.int32)
    want = table[idx[:, 0], idx[:, 1]]
    f = ftf.jit(graph(True), ["p:0"], ["out:0"], input_shapes={"p:0": [2, 3, 4]})
    np.testing.assert_array_equal(f(table), want)
    g = ftf.jit(graph(False), ["i:0"], ["out:0"], input_shapes={"i:0": [3, 2]})
    np.testing.assert_array_equal(g(idx), want)
