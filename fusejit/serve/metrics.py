"""Prometheus metrics of one server (its own registry, so several servers in a process never mix).

``/monitoring/prometheus/metrics`` exposes: requests by model, API and HTTP status; request latency
histograms; batch sizes (rows before and after padding); tasks waiting in batch queues; model
version loads by outcome.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .batching import BatchStats

_LATENCY_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fusejit_serve_requests", "REST requests by model, API and HTTP status",
                                ["model", "api", "code"], registry=r)
        self.latency = Histogram("fusejit_serve_request_latency_seconds", "time from request to response",
                                 ["model", "api"], buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_rows = Histogram("fusejit_serve_batch_size", "rows per model call (before padding)",
                                    ["model"], buckets=_BATCH_BUCKETS, registry=r)
        self.padded_rows = Counter("fusejit_serve_padding_rows", "rows added to reach an allowed batch size",
                                   ["model"], registry=r)
        self.queue_depth = Gauge("fusejit_serve_queue_depth", "requests waiting in the batch queue",
                                 ["model"], registry=r)
        self.loads = Counter("fusejit_serve_model_loads", "model version loads by outcome",
                             ["model", "outcome"], registry=r)

    def batch_stats(self, model: str) -> BatchStats:
        rows, padding, depth = self.batch_rows.labels(model), self.padded_rows.labels(model), self.queue_depth.labels(
            model)

        def batch_size(n: int, padded: int) -> None:
            rows.observe(n)
            if padded > n:
                padding.inc(padded - n)

        return BatchStats(batch_size=batch_size, queue_depth=depth.set)

    def load(self, model: str, outcome: str) -> None:
        self.loads.labels(model, outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
