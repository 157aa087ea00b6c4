"""The REST API in-process (Starlette's TestClient): formats, errors and their status codes,
versions, hot loading and a corrupt new version."""

from __future__ import annotations

import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from fusejit.serve import ServeOptions, build_app

from .conftest import expected, two_io_graph, write_version

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the serve extra installs
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

X = np.array([[1, 2, 3, 4], [0.5, -1, 0, 2]], np.float32)


def client(base: Path, name: str = "lin", **opts) -> TestClient:
    opts.setdefault("file_system_poll_wait_seconds", 0)
    return TestClient(build_app(ServeOptions(model_name=name, model_base_path=base, **opts)))


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@pytest.mark.parametrize("batching", [False, True])
def test_row_columnar_and_binary_formats(model_dir: Path, batching: bool) -> None:
    with client(model_dir, enable_batching=batching) as c:
        r = c.post("/v1/models/lin:predict", json={"instances": X.tolist()})
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(np.array(r.json()["predictions"], np.float32), expected(1, X))
        r = c.post("/v1/models/lin/versions/1:predict", json={"inputs": {"x": X.tolist()}})
        np.testing.assert_array_equal(np.array(r.json()["outputs"], np.float32), expected(1, X))
        r = c.post("/v1/models/lin:predict", json={"inputs": X[:1].tolist(), "signature_name": "serving_default"})
        np.testing.assert_array_equal(np.array(r.json()["outputs"], np.float32), expected(1, X[:1]))
        r = c.post("/v1/models/lin:predict", content=npy(X), headers={"content-type": "application/x-npy"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
        np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), expected(1, X))
        r = c.post("/v1/models/lin:predict", content=npy(X.astype(">f4")),
                   headers={"content-type": "application/x-npy", "accept": "application/json"})
        np.testing.assert_array_equal(np.array(r.json()["outputs"], np.float32), expected(1, X))


def test_integers_are_floats_and_non_finite_answers_use_tf_tokens(model_dir: Path) -> None:
    with client(model_dir) as c:
        r = c.post("/v1/models/lin:predict", json={"instances": [[1, 2, 3, 4]]})
        np.testing.assert_array_equal(np.array(r.json()["predictions"], np.float32), expected(1, X[:1]))
        big = np.array([[np.inf, 1, 1, 1], [np.nan, 1, 1, 1]], np.float32)
        r = c.post("/v1/models/lin:predict", content=npy(big), headers={"content-type": "application/x-npy",
                                                                          "accept": "application/json"})
        assert r.status_code == 200
        assert "-Infinity" in r.text and "NaN" in r.text and "null" not in r.text
        got = np.array(json.loads(r.text)["outputs"], np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            np.testing.assert_array_equal(got, expected(1, big))


def test_several_inputs_and_outputs(tmp_path: Path) -> None:
    base = tmp_path / "two"
    write_version(base, 3, two_io_graph())
    with client(base, name="two") as c:
        r = c.post("/v1/models/two:predict", json={"instances": [{"a": [1, 2], "k": 5}, {"a": [3, 4], "k": -1}]})
        assert r.json() == {"predictions": [{"out0": [2.0, 4.0], "out1": 6}, {"out0": [6.0, 8.0], "out1": 0}]}
        r = c.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2]], "k": [7]}})
        assert r.json() == {"outputs": {"out0": [[2.0, 4.0]], "out1": [8]}}
        r = c.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2]], "k": [7.5]}})
        assert r.status_code == 400 and "expected integers for a int32 input" in r.json()["error"]
        r = c.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2]], "k": [2**40]}})
        assert r.status_code == 400 and "outside the range of int32" in r.json()["error"]
        r = c.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2]]}})
        assert r.status_code == 400 and "missing input(s) k" in r.json()["error"]
        r = c.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2], [3, 4]], "k": [1]}})
        assert r.status_code == 400 and "expected shape [N] with N=2" in r.json()["error"]
        buf = io.BytesIO()
        np.savez(buf, a=np.ones((1, 2), np.float32), k=np.array([4], np.int32))
        r = c.post("/v1/models/two:predict", content=buf.getvalue(), headers={"content-type": "application/x-npz"})
        with np.load(io.BytesIO(r.content)) as out:
            assert out["out1"].tolist() == [5] and out["out0"].tolist() == [[2.0, 2.0]]


BAD_BODIES = [
    (b"{not json", "malformed JSON"),
    (b'{"instances": [[NaN, 1, 2, 3]]}', "NaN and Infinity are not JSON"),
    (b'{"instances": [[Infinity, 1, 2, 3]]}', "NaN and Infinity are not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"instances": []}', "non-empty list"),
    (b'{"instances": [[1, 2, 3]]}', "expected shape [N, 4]"),
    (b'{"instances": [[1, 2, 3, 4], [1, 2]]}', "not a rectangular array"),
    (b'{"instances": [["a", "b", "c", "d"]]}', "got strings"),
    (b'{"instances": [[true, false, true, true]]}', "got booleans"),
    (b'{"instances": [[1, 2, 3, null]]}', "ragged or mixed"),
    (b'{"instances": [[1e39, 2, 3, 4]]}', "too large for float32"),
    (b'{"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}', "exactly one of"),
    (b'{"instance": [[1, 2, 3, 4]]}', "unknown field(s) 'instance'"),
    (b'{"instances": [[1, 2, 3, 4]], "signature_name": "other"}', "signature_name 'other' not found"),
    (b'{"inputs": {"y": [[1, 2, 3, 4]]}}', "unknown input(s) y"),
]


@pytest.mark.parametrize("body,message", BAD_BODIES)
def test_bad_requests_are_400_with_a_clear_error(model_dir: Path, body: bytes, message: str) -> None:
    with client(model_dir, enable_batching=True) as c:
        r = c.post("/v1/models/lin:predict", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert message in r.json()["error"]
        ok = c.post("/v1/models/lin:predict", json={"instances": X.tolist()})  # the server is still fine
        assert ok.status_code == 200


def test_status_codes_for_unknown_things_and_limits(model_dir: Path) -> None:
    with client(model_dir, rest_api_max_body_bytes=1000) as c:
        cases = [
            (c.post("/v1/models/nope:predict", json={"instances": [[1, 2, 3, 4]]}), 404, "'nope' is not served"),
            (c.post("/v1/models/lin/versions/7:predict", json={"instances": [[1, 2, 3, 4]]}), 404,
             "version 7 of model 'lin' is not available (available: 1)"),
            (c.get("/v1/models/lin/versions/7"), 404, "Could not find version 7"),
            (c.post("/v1/models/lin/versions/x:predict", json={}), 400, "version must be a number"),
            (c.post("/v1/models/lin/labels/stable:predict", json={}), 404, "labels are not served"),
            (c.post("/v1/models/lin:classify", json={}), 501, "unsupported method :classify"),
            (c.get("/v1/models/lin:predict"), 405, ":predict takes POST"),
            (c.post("/v1/models/lin:predict", content=b"[" + b"1," * 600 + b"1]"), 413, "limit of 1000"),
            (c.post("/v1/models/lin:predict", content=b"x", headers={"content-type": "image/png"}), 415,
             "unsupported Content-Type"),
            (c.post("/v1/models/lin:predict", content=b"garbage", headers={"content-type": "application/x-npy"}),
             400, "cannot read the application/x-npy body"),
            (c.post("/v1/models/lin:predict", content=npy(X.astype(np.float64)),
                    headers={"content-type": "application/x-npy"}), 400, "expected dtype float32, got float64"),
            (c.get("/v2/anything"), 404, "no such endpoint"),
        ]
        for r, status, message in cases:
            assert r.status_code == status, (r.status_code, r.text)
            assert message in r.json()["error"], r.text


def test_status_metadata_and_metrics(model_dir: Path) -> None:
    with client(model_dir, enable_batching=True) as c:
        assert c.get("/v1/models/lin").json() == {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
        meta = c.get("/v1/models/lin/versions/1/metadata").json()
        sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert meta["model_spec"] == {"name": "lin", "signature_name": "", "version": "1"}
        assert sig["inputs"]["x"]["dtype"] == "DT_FLOAT"
        assert sig["inputs"]["x"]["tensor_shape"]["dim"] == [{"size": "-1", "name": "N"}, {"size": "4", "name": ""}]
        assert sig["outputs"]["out"]["tensor_shape"]["dim"][1] == {"size": "3", "name": ""}
        c.post("/v1/models/lin:predict", json={"instances": X.tolist()})
        c.post("/v1/models/lin:predict", content=b"{")
        text = c.get("/monitoring/prometheus/metrics").text
        assert 'fusejit_serve_requests_total{api="predict",code="200",model="lin"} 1.0' in text
        assert 'fusejit_serve_requests_total{api="predict",code="400",model="lin"} 1.0' in text
        assert 'fusejit_serve_batch_size_count{model="lin"}' in text
        assert 'fusejit_serve_model_loads_total{model="lin",outcome="ok"} 1.0' in text
        assert "fusejit_serve_request_latency_seconds_bucket" in text and "fusejit_serve_queue_depth" in text


def wait_for(predicate, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_new_versions_are_hot_loaded_and_a_corrupt_one_leaves_the_previous_serving(model_dir: Path,
                                                                                    caplog) -> None:
    with client(model_dir, enable_batching=True, file_system_poll_wait_seconds=0.05) as c:
        def answer(path: str = "/v1/models/lin:predict") -> np.ndarray:
            r = c.post(path, json={"instances": X.tolist()})
            assert r.status_code == 200, r.text
            return np.array(r.json()["predictions"], np.float32)

        np.testing.assert_array_equal(answer(), expected(1, X))
        write_version(model_dir, 2)
        wait_for(lambda: np.array_equal(answer(), expected(2, X)))
        wait_for(lambda: len(c.get("/v1/models/lin").json()["model_version_status"]) == 1)  # 1 unloaded
        assert c.post("/v1/models/lin/versions/1:predict", json={"instances": X.tolist()}).status_code == 404

        bad = model_dir / ".tmp-3"
        bad.mkdir()
        data = bytearray((model_dir / "2" / "model.fjg").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bad / "model.fjg").write_bytes(bytes(data))
        bad.rename(model_dir / "3")
        wait_for(lambda: any(s["version"] == "3" for s in c.get("/v1/models/lin").json()["model_version_status"]))
        status = {s["version"]: s for s in c.get("/v1/models/lin").json()["model_version_status"]}
        assert status["3"]["state"] == "END" and "model.fjg" in status["3"]["status"]["error_message"]
        assert status["2"]["state"] == "AVAILABLE"
        np.testing.assert_array_equal(answer(), expected(2, X))
        assert any("version 3 failed to load" in r.getMessage() for r in caplog.records)
        text = c.get("/monitoring/prometheus/metrics").text
        assert 'fusejit_serve_model_loads_total{model="lin",outcome="error"} 1.0' in text

        (model_dir / "3" / "model.fjg").unlink()  # repaired in place: retried and loaded
        write_version(model_dir / "3", 0)
        (model_dir / "3" / "0" / "model.fjg").rename(model_dir / "3" / "model.fjg")
        (model_dir / "3" / "0").rmdir()
        wait_for(lambda: np.array_equal(answer(), expected(0, X)))


def test_model_config_file_serves_several_models(tmp_path: Path) -> None:
    write_version(tmp_path / "a", 1)
    write_version(tmp_path / "a", 2)
    write_version(tmp_path / "b", 5, two_io_graph())
    cfg = tmp_path / "models.config"
    cfg.write_text("model_config_list {\n"
                   "  config { name: 'a' base_path: 'a' model_platform: 'fusejit'\n"
                   "           model_version_policy { all {} } }\n"
                   "  config { name: \"b\" base_path: \"" + str(tmp_path / "b") + "\" }\n"
                   "}\n")
    app = build_app(ServeOptions(model_config_file=cfg, file_system_poll_wait_seconds=0))
    with TestClient(app) as c:
        for v in (1, 2):
            r = c.post(f"/v1/models/a/versions/{v}:predict", json={"instances": X.tolist()})
            np.testing.assert_array_equal(np.array(r.json()["predictions"], np.float32), expected(v, X))
        r = c.post("/v1/models/a:predict", json={"instances": X.tolist()})  # newest by default
        np.testing.assert_array_equal(np.array(r.json()["predictions"], np.float32), expected(2, X))
        assert c.post("/v1/models/b:predict", json={"inputs": {"a": [[1, 1]], "k": [1]}}).status_code == 200


def test_an_aot_build_is_served_without_compiling(tmp_path: Path) -> None:
    """A version directory holding `fusejit aot` output is loaded through ctypes (no LLVM)."""
    from fusejit.aot.build import toolchain_available

    if not toolchain_available():
        pytest.skip("gcc/binutils not installed")
    import fusejit.aot

    from .conftest import linear_graph

    base = tmp_path / "lin"
    fusejit.aot.compile(linear_graph(4), base / "4", "lin")
    with client(base, enable_batching=True) as c:
        r = c.post("/v1/models/lin:predict", json={"instances": X.tolist()})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(np.array(r.json()["predictions"], np.float32), expected(4, X), rtol=1e-6)
        sig = c.get("/v1/models/lin/metadata").json()["metadata"]["signature_def"]["signature_def"]
        assert sig["serving_default"]["inputs"]["x"]["tensor_shape"]["dim"][0] == {"size": "-1", "name": "N"}
        r = c.post("/v1/models/lin:predict", json={"instances": [[1, 2, 3]]})
        assert r.status_code == 400 and "expected shape [N, 4]" in r.json()["error"]


def test_named_instances_for_one_input_and_a_vanished_base_path(model_dir: Path, caplog) -> None:
    with client(model_dir, file_system_poll_wait_seconds=0.05) as c:
        r = c.post("/v1/models/lin:predict", json={"instances": [{"x": row} for row in X.tolist()]})
        np.testing.assert_array_equal(np.array(r.json()["predictions"], np.float32), expected(1, X))
        moved = model_dir.with_name("elsewhere")
        model_dir.rename(moved)  # an unreadable base path keeps what is loaded
        wait_for(lambda: any("cannot list" in rec.getMessage() for rec in caplog.records))
        r = c.post("/v1/models/lin:predict", json={"instances": X.tolist()})
        assert r.status_code == 200, r.text
        moved.rename(model_dir)


def test_cli_refuses_bad_flags_with_a_message(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fusejit.cli import main

    result = CliRunner().invoke(main, ["serve", "--model_name=m"])
    assert result.exit_code != 0 and "give --model_base_path" in result.output
    f = tmp_path / "b.txt"
    f.write_text("max_batch_size { value: 0 }")
    result = CliRunner().invoke(main, ["serve", f"--model_base_path={tmp_path}", f"--batching_parameters_file={f}"])
    assert result.exit_code != 0 and "needs --enable_batching" in result.output
    result = CliRunner().invoke(main, ["serve", f"--model_base_path={tmp_path}", "--enable_batching",
                                       f"--batching_parameters_file={f}"])
    assert result.exit_code != 0 and "max_batch_size must be at least 1" in result.output


def test_large_weights_are_passed_to_the_program(tmp_path: Path) -> None:
    """Weights of 64 KiB or more are lifted out of the compiled program and bound at load: same answers."""
    from fusejit.ir import Graph, Node, TensorType, constant, make
    from fusejit.serve.servable import LIFT_BYTES

    w = np.random.default_rng(3).standard_normal((4, 4096)).astype(np.float32)
    assert w.nbytes >= LIFT_BYTES
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 4)), name="x")
    write_version(tmp_path / "big", 1, Graph([x], [make("dot", x, constant(w))], "big"))
    with client(tmp_path / "big", name="big") as c:
        r = c.post("/v1/models/big:predict", content=npy(X), headers={"content-type": "application/x-npy"})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(np.load(io.BytesIO(r.content)), X @ w, rtol=1e-5, atol=1e-5)


def test_unbatched_requests_waiting_for_a_thread_are_bounded(model_dir: Path) -> None:
    """Without batching, requests beyond the waiting limit get 503 at once instead of piling up."""
    import asyncio
    import threading

    app = build_app(ServeOptions(model_name="lin", model_base_path=model_dir, file_system_poll_wait_seconds=0,
                                 rest_api_num_threads=1))
    api = app.state.api
    api.manager.start()
    try:
        version = api.manager.resolve("lin")
        gate = threading.Event()
        version.servable.run = lambda arrays, run=version.servable.run: (gate.wait(10), run(arrays))[1]
        api.max_waiting = 2

        async def scenario() -> list:
            calls = [asyncio.ensure_future(api._run(version, "lin", None, [X], {"N": 2})) for _ in range(2)]
            await asyncio.sleep(0.05)
            try:
                await api._run(version, "lin", None, [X], {"N": 2})
            except Exception as exc:  # noqa: BLE001 - the refusal under test
                refused = exc
            gate.set()
            return [await asyncio.gather(*calls), refused]

        done, refused = asyncio.run(scenario())
        assert getattr(refused, "status", None) == 503 and "in flight for model threads" in str(refused)
        for (out,) in done:
            np.testing.assert_array_equal(out, expected(1, X))
        assert api.waiting == 0
    finally:
        api.manager.stop()
