"""Running the server: configuration from TF Serving's flags, uvicorn, graceful shutdown.

uvicorn owns the signals: on SIGTERM or SIGINT it stops accepting connections, lets requests in
flight finish (up to ``graceful_seconds``), and then the app's lifespan unloads the models
(batch queues drain first). uvicorn then re-raises the signal, so the process ends "killed by
SIGTERM" after a clean shutdown, as uvicorn servers do.

The server runs NumPy's OpenBLAS on one thread: its parallelism is concurrent requests (batch
threads, worker threads), and OpenBLAS's spinning threads on top of those oversubscribe the cores —
measured on 2 shared cores under load: one batch-64 MLP call 13-76 ms with OpenBLAS's 2 threads,
0.47 ms with 1.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path

from .config import BatchingParameters, ConfigError, ModelConfig, load_batching_parameters, load_model_config
from .manager import ModelManager
from .metrics import Metrics


@dataclass
class ServeOptions:
    """``fusejit serve``'s flags (TensorFlow Serving's names)."""

    model_name: str | None = None
    model_base_path: Path | None = None
    model_config_file: Path | None = None
    rest_api_port: int = 8501
    port: int | None = None  # gRPC (TF Serving's --port); None: REST only
    rest_api_host: str = "0.0.0.0"
    enable_batching: bool = False
    batching_parameters_file: Path | None = None
    file_system_poll_wait_seconds: float = 1.0
    rest_api_max_body_bytes: int = 64 << 20
    rest_api_num_threads: int = 4
    graceful_seconds: float = 30.0


def model_configs(opts: ServeOptions) -> list[ModelConfig]:
    if opts.model_config_file is not None:
        if opts.model_base_path is not None:
            raise ConfigError("give either --model_config_file or --model_base_path, not both")
        return load_model_config(opts.model_config_file)
    if opts.model_base_path is None:
        raise ConfigError("give --model_base_path (with --model_name) or --model_config_file")
    return [ModelConfig(opts.model_name or "default", Path(opts.model_base_path).resolve())]


def batching(opts: ServeOptions) -> BatchingParameters | None:
    if not opts.enable_batching:
        if opts.batching_parameters_file is not None:
            raise ConfigError("--batching_parameters_file needs --enable_batching")
        return None
    if opts.batching_parameters_file is None:
        return BatchingParameters()
    return load_batching_parameters(opts.batching_parameters_file)


def build_app(opts: ServeOptions):
    """The ASGI app for ``opts`` (models load at its startup); raises ConfigError."""
    from .rest import create_app

    metrics = Metrics()
    manager = ModelManager(model_configs(opts), batching(opts), opts.file_system_poll_wait_seconds,
                           stats=metrics.batch_stats, on_load=metrics.load)
    grpc_address = None if opts.port is None else (opts.rest_api_host, opts.port)
    return create_app(manager, metrics, opts.rest_api_max_body_bytes, opts.rest_api_num_threads,
                      grpc_address=grpc_address, graceful_seconds=opts.graceful_seconds)


def single_threaded_blas() -> bool:
    """Ask NumPy's bundled OpenBLAS (the one fusejit's JIT calls) for one thread; False if not found."""
    import numpy as np

    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libdir.glob("libscipy_openblas*.so")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn(1)
                return True
    return False


def run(opts: ServeOptions) -> None:
    import uvicorn

    app = build_app(opts)  # a ConfigError leaves the process as it was
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not single_threaded_blas():
        logging.getLogger("fusejit.serve").warning("NumPy's OpenBLAS not found: BLAS thread count left as is")
    uvicorn.run(app, host=opts.rest_api_host, port=opts.rest_api_port, log_level="warning",
                timeout_graceful_shutdown=opts.graceful_seconds, access_log=False)
