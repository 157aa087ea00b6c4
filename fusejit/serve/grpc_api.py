"""gRPC: TensorFlow Serving's ``tensorflow.serving.PredictionService/Predict`` (``--port``; needs grpcio).

The messages are TensorFlow Serving's, declared here with its field numbers (``predict.proto``,
``model.proto``) the way :mod:`fusejit.tf.proto` declares TensorFlow's: a descriptor built in
Python, no ``protoc`` and no generated module; ``TensorProto`` is that module's. So a client built
from TensorFlow Serving's own stubs talks to this server unchanged::

    PredictRequest  { ModelSpec model_spec = 1; map<string, TensorProto> inputs = 2;
                      repeated string output_filter = 3; }
    PredictResponse { map<string, TensorProto> outputs = 1; ModelSpec model_spec = 2; }
    ModelSpec       { string name = 1; google.protobuf.Int64Value version = 2;
                      string signature_name = 3; string version_label = 4; }

Inputs must have the model's dtypes exactly (as TF Serving requires) and shapes; errors are gRPC
statuses: INVALID_ARGUMENT (bad tensor, shape, dtype, input name, output filter, too many rows for
a batch), NOT_FOUND (model or version), UNAVAILABLE (nothing loaded yet, batch queue full),
INTERNAL (the model call failed), RESOURCE_EXHAUSTED (more calls in flight than 64 per thread).
Calls run on the gRPC server's worker threads and go through the same batchers as REST requests.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

from ..tf.proto import TensorProto
from ..tf.tensors import DTYPE_OF, TensorDecodeError, to_numpy
from . import codec
from .batching import Closed, QueueFull, TaskTooLarge
from .manager import ModelManager, ModelNotFound, ModelUnavailable
from .rest import UNBATCHED_QUEUE_PER_THREAD

log = logging.getLogger("fusejit.serve")

SERVICE, METHOD = "tensorflow.serving.PredictionService", "Predict"
_F = descriptor_pb2.FieldDescriptorProto


def _copy(file_descriptor: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    file_descriptor.CopyToProto(proto)
    return proto


def _map(msg: descriptor_pb2.DescriptorProto, name: str, number: int, value_type: str) -> None:
    entry = msg.nested_type.add(name=name.title() + "Entry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=_F.TYPE_MESSAGE, label=_F.LABEL_OPTIONAL, type_name=value_type)
    msg.field.add(name=name, number=number, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                  type_name=f".tensorflow.serving.{msg.name}.{entry.name}")


def _build() -> dict[str, Any]:
    tensor_file = _copy(TensorProto.DESCRIPTOR.file)
    fd = descriptor_pb2.FileDescriptorProto(name="fusejit/serve/predict.proto", package="tensorflow.serving",
                                            syntax="proto3",
                                            dependency=[tensor_file.name, "google/protobuf/wrappers.proto"])
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    spec = fd.message_type.add(name="ModelSpec")
    spec.field.add(name="name", number=1, type=_F.TYPE_STRING, label=opt)
    spec.field.add(name="version", number=2, type=_F.TYPE_MESSAGE, label=opt, type_name=".google.protobuf.Int64Value")
    spec.field.add(name="signature_name", number=3, type=_F.TYPE_STRING, label=opt)
    spec.field.add(name="version_label", number=4, type=_F.TYPE_STRING, label=opt)
    req = fd.message_type.add(name="PredictRequest")
    req.field.add(name="model_spec", number=1, type=_F.TYPE_MESSAGE, label=opt,
                  type_name=".tensorflow.serving.ModelSpec")
    _map(req, "inputs", 2, ".tensorflow.TensorProto")
    req.field.add(name="output_filter", number=3, type=_F.TYPE_STRING, label=rep)
    resp = fd.message_type.add(name="PredictResponse")
    _map(resp, "outputs", 1, ".tensorflow.TensorProto")
    resp.field.add(name="model_spec", number=2, type=_F.TYPE_MESSAGE, label=opt,
                   type_name=".tensorflow.serving.ModelSpec")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_copy(wrappers_pb2.DESCRIPTOR))
    pool.Add(tensor_file)
    pool.Add(fd)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tensorflow.serving.{n}"))
            for n in ("ModelSpec", "PredictRequest", "PredictResponse")}


_CLASSES = _build()
ModelSpec, PredictRequest, PredictResponse = (_CLASSES[n] for n in ("ModelSpec", "PredictRequest", "PredictResponse"))


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _run(manager: ModelManager, name: str, version: int | None, arrays: list[np.ndarray],
         sizes: dict[str, int]) -> tuple[int, list[np.ndarray]]:
    """The version that answered and its outputs (through its batcher when batching is on)."""
    for _ in range(3):
        v = manager.resolve(name, version)
        if v.batcher is None:
            return v.servable.version, v.servable.run(arrays)
        done_event, box = threading.Event(), {}

        def done(outputs, error, box=box, done_event=done_event) -> None:
            box["result"] = (outputs, error)
            done_event.set()

        try:
            v.batcher.submit(arrays, sizes[v.servable.batch_dim], done)
        except Closed:
            continue
        done_event.wait()
        outputs, error = box["result"]
        if error is not None:
            raise _Abort(grpc.StatusCode.INTERNAL, f"the model call failed: {type(error).__name__}: {error}")
        return v.servable.version, outputs
    raise _Abort(grpc.StatusCode.UNAVAILABLE, f"model {name!r} is being reloaded; retry")


def predict(manager: ModelManager, request: Any) -> Any:
    """One Predict call (raises _Abort or the manager's lookup errors)."""
    spec = request.model_spec
    if spec.version_label:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "version labels are not served; give a version number")
    if spec.signature_name not in ("", "serving_default"):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f"signature_name {spec.signature_name!r} not found: the model has one, 'serving_default'")
    version = spec.version.value if spec.HasField("version") else None
    sig = manager.resolve(spec.name, version).servable.signature
    names = [t.name for t in sig.inputs]
    given = set(request.inputs)
    if given != set(names):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f"inputs {sorted(given)} do not match the model's inputs {names} "
                     f"({', '.join(f'{t.name}: {t.numpy_dtype}{t.shape_text()}' for t in sig.inputs)})")
    arrays = []
    for t in sig.inputs:
        try:
            a = to_numpy(request.inputs[t.name], f"input {t.name!r}")
        except TensorDecodeError as exc:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        if a.dtype != np.dtype(t.numpy_dtype):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"input {t.name!r}: expected dtype {t.numpy_dtype}, got {a.dtype}")
        arrays.append(np.ascontiguousarray(a))
    out_names = [t.name for t in sig.outputs]
    wanted = list(request.output_filter) or out_names
    unknown = [n for n in wanted if n not in out_names]
    if unknown:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"output_filter names unknown output(s) {unknown} "
                                                       f"(outputs: {out_names})")
    try:
        sizes = codec.check_shapes(arrays, sig)
        served, outputs = _run(manager, spec.name, version, arrays, sizes)
    except codec.RequestError as exc:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
    except TaskTooLarge as exc:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
    except QueueFull as exc:
        raise _Abort(grpc.StatusCode.UNAVAILABLE, str(exc)) from None
    response = PredictResponse()
    response.model_spec.name = spec.name
    response.model_spec.version.value = served
    response.model_spec.signature_name = "serving_default"
    for n, o in zip(out_names, outputs):
        if n in wanted:
            t = response.outputs[n]
            t.dtype = DTYPE_OF[o.dtype]
            for d in o.shape:
                t.tensor_shape.dim.add(size=d)
            t.tensor_content = np.ascontiguousarray(o, dtype=o.dtype.newbyteorder("<")).tobytes()
    return response


def start_grpc(manager: ModelManager, host: str, port: int, workers: int, max_message_bytes: int) -> grpc.Server:
    """A started gRPC server answering Predict on ``host:port``."""

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return predict(manager, request)
        except _Abort as exc:
            context.abort(exc.code, str(exc))
        except ModelNotFound as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ModelUnavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug is this call's INTERNAL, never a dead server
            log.exception("gRPC Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")

    handler = grpc.method_handlers_generic_handler(SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=PredictRequest.FromString, response_serializer=PredictResponse.SerializeToString)})
    server = grpc.server(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fusejit-grpc"),
                         handlers=(handler,), options=[("grpc.max_receive_message_length", max_message_bytes),
                                                       ("grpc.max_send_message_length", max_message_bytes)],
                         maximum_concurrent_rpcs=UNBATCHED_QUEUE_PER_THREAD * workers)  # then RESOURCE_EXHAUSTED
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    server.start()
    return server


def predict_stub(channel: grpc.Channel):
    """A client callable for Predict on ``channel`` (what tests and clients without TF's stubs use)."""
    return channel.unary_unary(f"/{SERVICE}/{METHOD}", request_serializer=PredictRequest.SerializeToString,
                               response_deserializer=PredictResponse.FromString)
