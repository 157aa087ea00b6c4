"""``fusejit serve``: a model server with TensorFlow Serving's REST API for fusejit models.

Versioned model directories (:mod:`.manager`) holding saved graphs or AOT builds
(:mod:`.servable`), the REST API (:mod:`.rest`, bodies in :mod:`.codec`), gRPC Predict
(:mod:`.grpc_api`), dynamic batching
(:mod:`.batching`), TF Serving's config files (:mod:`.config`), Prometheus metrics
(:mod:`.metrics`) and the uvicorn runner (:mod:`.server`). Needs the ``serve`` extra
(starlette, uvicorn, orjson, prometheus-client; grpcio for gRPC).
"""

from __future__ import annotations

from .config import BatchingParameters, ConfigError, ModelConfig, VersionPolicy
from .server import ServeOptions, build_app, run

__all__ = ["BatchingParameters", "ConfigError", "ModelConfig", "ServeOptions", "VersionPolicy", "build_app", "run"]
