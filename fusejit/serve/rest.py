"""The REST API, as TensorFlow Serving defines it, on Starlette.

- ``POST /v1/models/{name}[/versions/{v}]:predict`` — see :mod:`.codec` for the bodies.
- ``GET /v1/models/{name}[/versions/{v}]`` — ``{"model_version_status": [...]}``.
- ``GET /v1/models/{name}[/versions/{v}]/metadata`` — the signature (``signature_def``).
- ``GET /monitoring/prometheus/metrics``.

Every failure is ``{"error": "..."}`` with the status TF Serving gives its error code: 400 a
request the model cannot take, 404 an unknown model or version, 405 a wrong method, 413 a body
over the size limit, 415 an unknown content type, 503 a model with no version loaded yet or a full
batch queue (with ``Retry-After``; without batching, more than 64 requests per model thread in flight),
500 a model call that failed. A request is decoded on the
event loop; the model runs on a batch thread (batching on) or a worker thread (off), never on the
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from . import codec
from .batching import Closed, QueueFull, TaskTooLarge
from .manager import ModelManager, ModelNotFound, ModelUnavailable, Version
from .metrics import CONTENT_TYPE, Metrics
from .servable import Servable

log = logging.getLogger("fusejit.serve")

_PATH = re.compile(r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?::(?P<verb>[^/:]*)|/(?P<meta>metadata))?")
_DTYPES = {"bool": "DT_BOOL", "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64",
           "uint8": "DT_UINT8", "uint16": "DT_UINT16", "uint32": "DT_UINT32", "uint64": "DT_UINT64",
           "float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE"}


UNBATCHED_QUEUE_PER_THREAD = 64


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _signature_def(s: Servable) -> dict:
    def tensors(ts) -> dict:
        return {t.name: {"dtype": _DTYPES[t.numpy_dtype], "name": t.name, "tensor_shape": {
            "dim": [{"size": "-1", "name": d} if isinstance(d, str) else {"size": str(d), "name": ""}
                    for d in t.shape], "unknown_rank": False}} for t in ts}

    return {"inputs": tensors(s.signature.inputs), "outputs": tensors(s.signature.outputs),
            "method_name": "tensorflow/serving/predict"}


class RestApi:
    """The request handlers over a :class:`.manager.ModelManager`."""

    def __init__(self, manager: ModelManager, metrics: Metrics, max_body_bytes: int, workers: int) -> None:
        self.manager = manager
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fusejit-serve")
        # Unbatched calls waiting for a worker are bounded too: past this many, 503 at once.
        self.max_waiting = UNBATCHED_QUEUE_PER_THREAD * workers
        self.waiting = 0  # only touched on the event loop

    # ---- routing ----------------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        start = time.perf_counter()
        m = _PATH.fullmatch(request.path_params["rest"])
        name = m["name"] if m else "-"
        api = "predict" if m and m["verb"] is not None else "metadata" if m and m["meta"] else "status"
        try:
            if m is None:
                raise HttpError(404, f"Malformed request: {request.method} {request.url.path} (expected "
                                     "/v1/models/<name>[/versions/<version>][:predict|/metadata])")
            response = await self._dispatch(request, m, api)
        except HttpError as exc:
            response = _json({"error": str(exc)}, exc.status, exc.headers)
        except (ModelNotFound, ModelUnavailable) as exc:
            status = 404 if isinstance(exc, ModelNotFound) else 503
            response = _json({"error": str(exc)}, status)
        except ClientDisconnect:
            response = Response(status_code=499)
        except Exception as exc:  # noqa: BLE001 - a bug must become a 500 for this request, not a dead worker
            log.exception("request %s %s failed", request.method, request.url.path)
            response = _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)
        self.metrics.requests.labels(name, api, str(response.status_code)).inc()
        self.metrics.latency.labels(name, api).observe(time.perf_counter() - start)
        return response

    async def _dispatch(self, request: Request, m: re.Match, api: str) -> Response:
        if m["label"] is not None:
            raise HttpError(404, f"version labels are not served (got label {m['label']!r}); use /versions/<n>")
        version = None
        if m["version"] is not None:
            if not m["version"].isdigit():
                raise HttpError(400, f"version must be a number, got {m['version']!r}")
            version = int(m["version"])
        name = m["name"]
        if api == "predict":
            if m["verb"] != "predict":
                raise HttpError(404 if m["verb"] not in ("classify", "regress") else 501,
                                f"unsupported method :{m['verb']} (fusejit models serve :predict)")
            if request.method != "POST":
                raise HttpError(405, f":predict takes POST, got {request.method}")
            return await self.predict(request, name, version)
        if request.method != "GET":
            raise HttpError(405, f"model {api} takes GET, got {request.method}")
        if api == "metadata":
            v = self.manager.resolve(name, version)
            return _json({"model_spec": {"name": name, "signature_name": "", "version": str(v.servable.version)},
                          "metadata": {"signature_def": {"signature_def": {
                              "serving_default": _signature_def(v.servable)}}}})
        return _json({"model_version_status": self.manager.status(name, version)})

    # ---- predict ----------------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, f"the body has {declared} bytes, more than the limit of {limit} "
                                 "(--rest_api_max_body_bytes)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"the body is larger than the limit of {limit} bytes (--rest_api_max_body_bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def predict(self, request: Request, name: str, version: int | None) -> Response:
        v = self.manager.resolve(name, version)
        body = await self._body(request)
        ctype = request.headers.get("content-type", codec.JSON).split(";")[0].strip().lower()
        sig = v.servable.signature
        try:
            if ctype in (codec.NPY, codec.NPZ):
                arrays, fmt = codec.decode_binary(body, ctype, sig), "binary"
            elif ctype in (codec.JSON, "", "text/plain", "application/x-www-form-urlencoded"):  # curl -d sends the last
                arrays, fmt = codec.decode_json(body, sig)
            else:
                raise HttpError(415, f"unsupported Content-Type {ctype!r}: send application/json, "
                                     f"{codec.NPY} or {codec.NPZ}")
            sizes = codec.check_shapes(arrays, sig)
        except codec.RequestError as exc:
            raise HttpError(400, str(exc)) from None
        outputs = await self._run(v, name, version, arrays, sizes)
        names = [t.name for t in sig.outputs]
        accept = request.headers.get("accept", "")
        if fmt == "binary" and codec.JSON not in accept or codec.NPY in accept or codec.NPZ in accept:
            data, media = codec.encode_binary(outputs, names)
            return Response(data, media_type=media)
        return Response(codec.encode_json(outputs, names, "columnar" if fmt == "binary" else fmt),
                        media_type="application/json")

    async def _run(self, v: Version, name: str, version: int | None, arrays: list[np.ndarray],
                   sizes: dict[str, int]) -> list[np.ndarray]:
        loop = asyncio.get_running_loop()
        for _ in range(3):  # a version retired between resolve and submit: resolve again
            if v.batcher is None:
                if self.waiting >= self.max_waiting:
                    raise HttpError(503, f"{self.waiting} requests are in flight for model threads (the limit without "
                                         "batching); retry later", {"Retry-After": "1"})
                self.waiting += 1
                try:
                    return await loop.run_in_executor(self.executor, self._call, v.servable.run, arrays)
                finally:
                    self.waiting -= 1
            fut: asyncio.Future = loop.create_future()

            def done(outputs, error, fut=fut) -> None:
                loop.call_soon_threadsafe(_settle, fut, outputs, error)

            try:
                v.batcher.submit(arrays, sizes[v.servable.batch_dim], done)
            except TaskTooLarge as exc:
                raise HttpError(400, str(exc)) from None
            except QueueFull as exc:
                raise HttpError(503, str(exc), {"Retry-After": "1"}) from None
            except Closed:
                v = self.manager.resolve(name, version)
                continue
            outputs, error = await fut
            if error is not None:
                raise HttpError(500, f"the model call failed: {type(error).__name__}: {error}")
            return outputs
        raise HttpError(503, f"model {name!r} is being reloaded; retry")

    @staticmethod
    def _call(run: Callable[[list[np.ndarray]], list[np.ndarray]], arrays: list[np.ndarray]) -> list[np.ndarray]:
        try:
            return run(arrays)
        except Exception as exc:  # noqa: BLE001 - reported as this request's 500
            log.exception("model call failed")
            raise HttpError(500, f"the model call failed: {type(exc).__name__}: {exc}") from None

    async def metrics_page(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return _json({"error": f"no such endpoint: {request.method} {request.url.path}"}, 404)


def _settle(fut: asyncio.Future, outputs: list[np.ndarray] | None, error: BaseException | None) -> None:
    if not fut.done():  # the request may have been cancelled (client gone)
        fut.set_result((outputs, error))


def create_app(manager: ModelManager, metrics: Metrics, max_body_bytes: int = 64 << 20, workers: int = 4,
               manage_lifecycle: bool = True, grpc_address: tuple[str, int] | None = None,
               graceful_seconds: float = 30.0) -> Starlette:
    """The ASGI app. With ``manage_lifecycle`` the app loads the models at startup (before taking
    traffic) and unloads them at shutdown, after in-flight requests finished. ``grpc_address``:
    also serve gRPC Predict there (:mod:`.grpc_api`) for the app's lifetime."""
    api = RestApi(manager, metrics, max_body_bytes, workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        loop = asyncio.get_running_loop()
        if manage_lifecycle:
            await loop.run_in_executor(None, manager.start)
        grpc_server = None
        if grpc_address is not None:
            from .grpc_api import start_grpc

            grpc_server = start_grpc(manager, *grpc_address, workers, max_body_bytes)
            app.state.grpc_server = grpc_server
        try:
            yield
        finally:
            if grpc_server is not None:  # refuse new calls, finish those in flight
                await loop.run_in_executor(None, lambda: grpc_server.stop(graceful_seconds).wait())
            if manage_lifecycle:
                await loop.run_in_executor(None, manager.stop)
            api.executor.shutdown(wait=True)

    routes = [Route("/v1/models/{rest:path}", api.models, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
              Route("/monitoring/prometheus/metrics", api.metrics_page, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: api.not_found, 405: api.not_found})
    app.state.api = api
    return app
