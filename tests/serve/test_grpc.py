"""gRPC Predict with TensorFlow Serving's messages: answers, version choice, output filter, and
the status codes of bad calls."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

grpc = pytest.importorskip("grpc")

from fusejit.serve import ServeOptions, build_app  # noqa: E402
from fusejit.serve.grpc_api import PredictRequest, predict_stub  # noqa: E402
from fusejit.serve.loadgen import free_port  # noqa: E402
from fusejit.tf.tensors import from_numpy, to_numpy  # noqa: E402

from .conftest import expected, two_io_graph, write_version  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def request(name: str, inputs: dict[str, np.ndarray], version: int | None = None, **fields) -> PredictRequest:
    req = PredictRequest(**fields)
    req.model_spec.name = name
    if version is not None:
        req.model_spec.version.value = version
    for k, v in inputs.items():
        req.inputs[k].MergeFromString(from_numpy(v).SerializeToString())
    return req


@pytest.mark.parametrize("batching", [False, True])
def test_predict_over_grpc(tmp_path: Path, batching: bool) -> None:
    base = tmp_path / "lin"
    write_version(base, 1)
    write_version(base, 2)
    write_version(tmp_path / "two", 1, two_io_graph())
    cfg = tmp_path / "models.config"
    cfg.write_text(f"model_config_list {{ config {{ name: 'lin' base_path: '{base}'\n"
                   f"  model_version_policy {{ all {{}} }} }}\n"
                   f" config {{ name: 'two' base_path: '{tmp_path / 'two'}' }} }}")
    port = free_port()
    app = build_app(ServeOptions(model_config_file=cfg, port=port, rest_api_host="127.0.0.1",
                                 enable_batching=batching, file_system_poll_wait_seconds=0))
    x = np.array([[1, 2, 3, 4], [0, -1, 0.5, 2]], np.float32)
    with TestClient(app), grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = predict_stub(channel)
        r = call(request("lin", {"x": x}), timeout=30)
        assert r.model_spec.version.value == 2 and list(r.outputs) == ["out"]
        np.testing.assert_array_equal(to_numpy(r.outputs["out"]), expected(2, x))
        r = call(request("lin", {"x": x}, version=1), timeout=30)
        np.testing.assert_array_equal(to_numpy(r.outputs["out"]), expected(1, x))
        a, k = np.ones((3, 2), np.float32), np.arange(3, dtype=np.int32)
        r = call(request("two", {"a": a, "k": k}, output_filter=["out1"]), timeout=30)
        assert list(r.outputs) == ["out1"] and to_numpy(r.outputs["out1"]).tolist() == [1, 2, 3]
        bad = [(request("nope", {"x": x}), grpc.StatusCode.NOT_FOUND, "'nope' is not served"),
               (request("lin", {"x": x}, version=9), grpc.StatusCode.NOT_FOUND, "version 9"),
               (request("lin", {"x": x.astype(np.float64)}), grpc.StatusCode.INVALID_ARGUMENT,
                "expected dtype float32, got float64"),
               (request("lin", {"x": x[:, :3].copy()}), grpc.StatusCode.INVALID_ARGUMENT, "expected shape [N, 4]"),
               (request("lin", {"y": x}), grpc.StatusCode.INVALID_ARGUMENT, "do not match the model's inputs"),
               (request("two", {"a": a, "k": k}, output_filter=["z"]), grpc.StatusCode.INVALID_ARGUMENT,
                "unknown output(s) ['z']"),
               (request("two", {"a": a, "k": k[:2]}), grpc.StatusCode.INVALID_ARGUMENT, "with N=3")]
        for req, code, message in bad:
            with pytest.raises(grpc.RpcError) as info:
                call(req, timeout=30)
            assert info.value.code() == code, info.value.details()
            assert message in info.value.details()
        assert call(request("lin", {"x": x}), timeout=30).model_spec.version.value == 2  # still serving
