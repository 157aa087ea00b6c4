"""``fusejit show model.onnx`` and ``fusejit aot model.onnx``: the library's C names follow the model's
inputs and outputs, and its answers match ONNX's ReferenceEvaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from fusejit import aot  # noqa: E402
from fusejit.cli import main  # noqa: E402

rng = np.random.default_rng(3)


def two_output_model() -> onnx.ModelProto:
    """x[batch,12] -> Gemm -> Relu ("hidden/relu") -> MatMul -> Softmax ("probs")."""
    w1, b1 = rng.standard_normal((12, 24)).astype(np.float32), rng.standard_normal(24).astype(np.float32)
    w2 = rng.standard_normal((24, 5)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["input.1", "w1", "b1"], ["h"]),
             helper.make_node("Relu", ["h"], ["hidden/relu"]),
             helper.make_node("MatMul", ["hidden/relu", "w2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["batch", 12])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 5]),
         helper.make_tensor_value_info("hidden/relu", TensorProto.FLOAT, ["batch", 24])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")


MODEL = two_output_model()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(MODEL, path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_show_summarizes_the_model_and_its_import(model_path: Path) -> None:
    code, out = run("show", str(model_path))
    assert code == 0, out
    assert "ONNX model tiny.onnx: graph 'tiny', 4 node(s), producer test" in out
    assert "ops: Gemm x1, MatMul x1, Relu x1, Softmax x1" in out
    assert "input.1: float32[batch,12]" in out and "probs: float32[batch,5]" in out
    assert "initializers: 3 (1728 bytes)" in out
    assert "func @tiny(" in out and "f32[batch,12]" in out


def test_aot_library_is_named_after_the_model_and_matches_the_reference(model_path: Path, tmp_path: Path) -> None:
    code, out = run("aot", str(model_path), "--name", "tiny", "-o", str(tmp_path))
    assert code == 0, out
    header = (tmp_path / "tiny.h").read_text()
    assert "probs" in header and "hidden_relu" in header and "input_1" in header
    lib = aot.load(tmp_path, "tiny")
    assert [t.name for t in lib.signature.outputs] == ["probs", "hidden_relu"]
    reference = ReferenceEvaluator(MODEL)
    for n in (1, 7):
        x = rng.standard_normal((n, 12)).astype(np.float32)
        want = reference.run(None, {"input.1": x})
        got = lib(x)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    code, out = run("aot", str(bad), "--name", "x", "-o", str(tmp_path))
    assert code == 1 and out.startswith(f"Error: {bad}:"), out
