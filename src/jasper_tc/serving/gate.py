"""What every request passes before routing: API key, concurrency limit, payload size, and its metrics.

Pure ASGI rather than a Starlette middleware, so that a refused request costs no routing or parsing, a
body is read once (and refused as soon as it passes the limit), and the metrics see every response,
the gate's own refusals included.
"""

from __future__ import annotations

import hmac
import time

from .config import ServeConfig
from .errors import ApiError, error_response, noted_kind
from .metrics import Metrics

__all__ = ["ROUTES", "WORK_ROUTES", "Gate"]

ROUTES = ("/v1/embeddings", "/embed", "/tokenize", "/health", "/ready", "/info", "/metrics")
WORK_ROUTES = ("/v1/embeddings", "/embed", "/tokenize")  # the routes the concurrency limit counts


class Gate:
    """Wraps the app: refuses what is over a limit, counts the rest while it runs, records every answer."""

    def __init__(self, app, config: ServeConfig, metrics: Metrics) -> None:
        self.app, self.config, self.metrics = app, config, metrics
        self.in_flight = 0  # requests on WORK_ROUTES being served

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        scope.setdefault("state", {})  # shared by the app's Requests, so an error's kind comes back here
        status = [500]
        started = time.perf_counter()

        async def tracked_send(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        counted = False
        try:
            headers = dict(scope["headers"])
            key = self.config.api_key
            if key is not None and path != "/health" and not _bearer_ok(headers.get(b"authorization"), key):
                raise ApiError("unauthorized", "missing or wrong API key (send 'Authorization: Bearer KEY')")
            if path in WORK_ROUTES:
                if self.in_flight >= self.config.max_concurrent_requests:
                    raise ApiError(
                        "too_many_requests",
                        f"more than {self.config.max_concurrent_requests} concurrent requests; retry later",
                        retry_after=1,
                    )
                self.in_flight += 1
                self.metrics.in_flight.inc()
                counted = True
            if scope["method"] == "POST":
                receive = await self._buffered_body(headers, receive)
            await self.app(scope, receive, tracked_send)
        except ApiError as error:
            await error_response(error, scope)(scope, receive, tracked_send)
        finally:
            if counted:
                self.in_flight -= 1
                self.metrics.in_flight.dec()
            self._record(scope, route, status[0], time.perf_counter() - started)

    def _record(self, scope, route: str, status: int, seconds: float) -> None:
        self.metrics.requests.labels(route, str(status)).inc()
        if status >= 400:
            # every error answer notes its kind; a 500 that escaped even the catch-all handler has none
            self.metrics.errors.labels(route, noted_kind(scope) or "internal").inc()
        self.metrics.latency.labels(route).observe(seconds)

    async def _buffered_body(self, headers: dict, receive):
        """Read the body up to the limit (413 past it), then hand it to the app as one message."""
        limit = self.config.max_payload_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError("payload_too_large", f"the body has {int(declared)} bytes, more than the limit of {limit}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError("payload_too_large", f"the body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: blocks until the client disconnects

        return replay


def _bearer_ok(header: bytes | None, key: str) -> bool:
    """Whether the Authorization header carries the key (compared in constant time)."""
    if not header or not header.startswith(b"Bearer "):
        return False
    return hmac.compare_digest(header[len(b"Bearer ") :].strip(), key.encode("utf-8"))
