"""ONNX models into fusejit: symbolic dims, initializers as constants, clear errors for bad models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fusejit  # noqa: E402
import fusejit.onnx as fo  # noqa: E402
from fusejit.onnx.backend import FusejitBackend, prepare, run_node, supports_device  # noqa: E402

rng = np.random.default_rng(0)


def mlp_model() -> onnx.ModelProto:
    w1, b1 = rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    w2 = rng.standard_normal((32, 4)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4])],
                              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                               numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mlp_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def test_dim_params_are_symbolic_and_weights_constants(tmp_path: Path) -> None:
    model = mlp_model()
    onnx.save(model, tmp_path / "mlp.onnx")
    graph = fo.load(tmp_path / "mlp.onnx")
    assert len(graph.inputs) == 1 and graph.inputs[0].shape == ("batch", 16)
    f = fo.jit(tmp_path / "mlp.onnx")
    for n in (1, 5, 64):
        x = rng.standard_normal((n, 16)).astype(np.float32)
        np.testing.assert_allclose(f(x), mlp_reference(model, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f(x=x), mlp_reference(model, x), rtol=1e-5, atol=1e-6)


def test_backend_api() -> None:
    assert supports_device("CPU") and not supports_device("CUDA")
    x, model = rng.standard_normal((3, 16)).astype(np.float32), mlp_model()
    (out,) = prepare(model).run([x])
    np.testing.assert_allclose(out, mlp_reference(model, x), rtol=1e-5, atol=1e-6)
    (y,) = run_node(helper.make_node("Relu", ["a"], ["b"]), [np.array([-1.0, 2.0], np.float32)])
    np.testing.assert_array_equal(y, [0.0, 2.0])
    assert issubclass(FusejitBackend, onnx.backend.base.Backend)


def test_frozen_onnx_graph_compiles_ahead_of_time(tmp_path: Path) -> None:
    from fusejit import aot

    model = mlp_model()
    aot.compile(fo.load(model), tmp_path, name="mlp")
    x = rng.standard_normal((2, 16)).astype(np.float32)
    np.testing.assert_allclose(aot.load(tmp_path)(x), mlp_reference(model, x), rtol=1e-5, atol=1e-6)


def test_unsupported_ops_are_listed_at_once() -> None:
    nodes = [helper.make_node("Unique", ["x"], ["u"]), helper.make_node("NonZero", ["x"], ["nz"]),
             helper.make_node("Unique", ["x"], ["u2"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("u", TensorProto.FLOAT, None)])
    with pytest.raises(fo.OnnxImportError, match=r"NonZero \(NonZero_1\); Unique \(Unique_0, Unique_2\)"):
        fo.jit(helper.make_model(graph))


def test_bad_models_are_clear_errors(tmp_path: Path) -> None:
    model = mlp_model()
    model.graph.input.append(helper.make_tensor_value_info("w2", TensorProto.FLOAT, [8, 4]))
    with pytest.raises(fo.OnnxImportError, match=r"input 'w2' declares shape \[8, 4\], its initializer has \[32, 4\]"):
        fo.jit(model)
    newer = mlp_model()
    newer.opset_import[0].version = 99
    with pytest.raises(fo.OnnxImportError, match="opset 99 is newer"):
        fo.jit(newer)
    ext = tmp_path / "ext.onnx"
    big = mlp_model()
    onnx.save(big, ext, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(fo.OnnxFileError, match="external data"):
        fo.load(ext)
    with pytest.raises(fo.OnnxFileError, match="no such file"):
        fo.load(tmp_path / "missing.onnx")


_GOOD = mlp_model().SerializeToString()


@given(st.integers(0, len(_GOOD) - 1), st.integers(0, 7), st.booleans())
def test_truncated_and_bit_flipped_models_never_crash(pos: int, bit: int, truncate: bool) -> None:
    data = _GOOD[:pos] if truncate else _GOOD[:pos] + bytes([_GOOD[pos] ^ (1 << bit)]) + _GOOD[pos + 1:]
    try:
        f = fo.jit(data)
        f(np.zeros((2, 16), np.float32))
    except (fo.OnnxImportError, fusejit.TracingError, ValueError, TypeError, fusejit.ArgumentError):
        pass  # a clear error; never a crash


def test_one_dimensional_conv_and_pool_match_the_reference() -> None:
    from onnx.reference import ReferenceEvaluator

    w, b = rng.standard_normal((6, 2, 3)).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[2, 1], strides=[2], dilations=[2]),
             helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[2], strides=[2])]
    graph = helper.make_graph(nodes, "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2, 17])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((3, 2, 17)).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = fo.jit(model)(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
