"""Prometheus metrics of one server (its own registry, so several apps in a process stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKEN_BUCKETS = (64, 256, 1024, 4096, 16384, 65536)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("jasper_requests", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.errors = Counter("jasper_errors", "Error responses by route and kind", ["route", "kind"], registry=r)
        self.latency = Histogram(
            "jasper_request_seconds", "Request latency by route", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.queue_items = Gauge("jasper_queue_items", "Inputs waiting for a batch", registry=r)
        self.queue_tokens = Gauge("jasper_queue_tokens", "Tokens (after compression) waiting", registry=r)
        self.in_flight = Gauge("jasper_requests_in_flight", "Requests being served", registry=r)
        self.batch_size = Histogram("jasper_batch_inputs", "Inputs per batch", buckets=_SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram(
            "jasper_batch_tokens", "Tokens per batch after compression", buckets=_TOKEN_BUCKETS, registry=r
        )
        self.tokens = Counter("jasper_tokens", "Tokens embedded, before and after compression", ["stage"], registry=r)
        self.degraded = Counter("jasper_degraded_inputs", "Inputs compressed harder under overload", registry=r)
        self.dropped = Counter("jasper_dropped_inputs", "Inputs dropped before compute (client gone)", registry=r)

    def batch(self, inputs: int, tokens: int, compressed: int) -> None:
        self.batch_size.observe(inputs)
        self.batch_tokens.observe(compressed)
        self.tokens.labels("input").inc(tokens)
        self.tokens.labels("compressed").inc(compressed)

    def render(self) -> bytes:
        return generate_latest(self.registry)
