"""The HTTP face of an :class:`~jasper_tc.encode.Encoder`: OpenAI- and TEI-style routes, with per-request ratio.

Routes: ``POST /v1/embeddings`` (OpenAI; extensions ``compression_ratio``, ``input_type``, ``truncate``),
``POST /embed`` and ``POST /tokenize`` (TEI), ``GET /health`` (alive), ``GET /ready`` (model loaded and
a probe encode succeeded), ``GET /info``, ``GET /metrics`` (Prometheus).

The model loads in the background after start-up, so ``/health`` answers at once and ``/ready`` tells
the truth. Tokenising and the forward run off the event loop; the forward through the :mod:`batcher`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..encode import Encoder
from ..model import check_ratio
from .batcher import Batcher, Overloaded
from .config import ServeConfig
from .errors import ApiError, error_response
from .metrics import Metrics

__all__ = ["create_app"]

log = logging.getLogger("jasper_tc.serving")
ROUTES = ("/v1/embeddings", "/embed", "/tokenize", "/health", "/ready", "/info", "/metrics")
WORK_ROUTES = ("/v1/embeddings", "/embed", "/tokenize")


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request, plus this server's extensions."""

    model_config = ConfigDict(extra="forbid")
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    compression_ratio: float | None = None
    input_type: Literal["query", "document"] | None = None
    truncate: bool | None = None


class EmbedRequest(BaseModel):
    """TEI's ``/embed``, plus ``compression_ratio``."""

    model_config = ConfigDict(extra="forbid")
    inputs: str | list[str]
    normalize: bool = True
    truncate: bool | None = None
    prompt_name: str | None = None
    compression_ratio: float | None = None


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: str | list[str]
    add_special_tokens: bool = Field(default=True)
    prompt_name: str | None = None


class _State:
    def __init__(self) -> None:
        self.encoder: Encoder | None = None
        self.batcher: Batcher | None = None
        self.status = "loading"  # loading | ready | failed
        self.error: str | None = None
        self.in_flight = 0


def _bearer_ok(header: bytes | None, key: str) -> bool:
    if not header or not header.startswith(b"Bearer "):
        return False
    return hmac.compare_digest(header[len(b"Bearer ") :].strip(), key.encode("utf-8"))


class _Gate:
    """Pure ASGI, before routing: API key, concurrency limit, payload size, and per-route metrics."""

    def __init__(self, app, config: ServeConfig, state: _State, metrics: Metrics) -> None:
        self.app, self.config, self.state, self.metrics = app, config, state, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
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
                if self.state.in_flight >= self.config.max_concurrent_requests:
                    raise ApiError(
                        "too_many_requests",
                        f"more than {self.config.max_concurrent_requests} concurrent requests; retry later",
                        retry_after=1,
                    )
                self.state.in_flight += 1
                self.metrics.in_flight.inc()
                counted = True
            if scope["method"] == "POST":
                receive = await self._buffered_body(headers, receive)
            await self.app(scope, receive, tracked_send)
        except ApiError as error:
            await error_response(error)(scope, receive, tracked_send)
        finally:
            if counted:
                self.state.in_flight -= 1
                self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, str(status[0])).inc()
            if status[0] >= 400:
                self.metrics.errors.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

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


def create_app(config: ServeConfig, load: Callable[[], Encoder] | None = None) -> FastAPI:
    """The server's ASGI app. ``load`` builds the encoder (default: ``jasper_tc.load(config.model, ...)``)."""
    state, metrics = _State(), Metrics()
    if load is None:

        def load() -> Encoder:
            from ..encode import load as load_encoder

            return load_encoder(config.model, device=config.device, dtype=config.dtype)

    served_name = config.name or config.model.rstrip("/").split("/")[-1]

    async def load_model() -> None:
        try:
            encoder = await asyncio.to_thread(load)
            await asyncio.to_thread(encoder.encode, ["probe"])  # ready means a real forward worked
            forward = config.forward_batch_size or (4 if encoder.backend.device.type == "cpu" else 32)

            def embed(token_ids: list[list[int]], ratio: float):
                return encoder.embed_token_ids(token_ids, ratio, batch_size=forward)

            batcher = Batcher(
                embed,
                length_threshold=encoder.backend.length_threshold,
                max_batch_tokens=config.max_batch_tokens,
                max_batch_size=config.max_batch_size,
                max_wait_ms=config.max_wait_ms,
                max_queue_tokens=config.max_queue_tokens,
                overload_tokens=config.overload_tokens if config.overload_compression else None,
                overload_ratio=config.overload_ratio,
                on_batch=metrics.batch,
                on_drop=metrics.dropped.inc,
            )
            batcher.start()
            state.encoder, state.batcher, state.status = encoder, batcher, "ready"
            log.info("model %s ready", config.model)
        except Exception as error:  # reported by /ready, never raised into the event loop
            state.status, state.error = "failed", f"{type(error).__name__}: {error}"
            log.exception("loading %s failed", config.model)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(load_model())
        yield
        await loading
        if state.batcher is not None:
            await state.batcher.stop()  # finishes queued work

    app = FastAPI(title="jasper-tc", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        parts = []
        for problem in error.errors()[:5]:
            where = ".".join(str(x) for x in problem.get("loc", ()) if x != "body")
            parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
        return error_response(ApiError("invalid_request", "; ".join(parts)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid_request")
        message = f"no route {request.method} {request.url.path}" if kind != "invalid_request" else str(error.detail)
        return error_response(ApiError(kind, message))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(ApiError("internal", "internal error; see the server log"))

    def ready_encoder() -> Encoder:
        if state.status != "ready":
            detail = f" ({state.error})" if state.error else ""
            raise ApiError("not_ready", f"the model is {state.status}{detail}", retry_after=1)
        return state.encoder

    def check_inputs(inputs: str | list[str], field: str) -> list[str]:
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not texts:
            raise ApiError("invalid_request", f"{field}: the list is empty")
        if len(texts) > config.max_inputs:
            raise ApiError(
                "too_many_inputs", f"{field}: {len(texts)} inputs, more than the limit of {config.max_inputs}"
            )
        for i, text in enumerate(texts):
            if not text.strip():
                raise ApiError("invalid_request", f"{field}[{i}] is empty or whitespace; there is nothing to embed")
        return texts

    def resolve_ratio(value: float | None, encoder: Encoder) -> float:
        if value is None:
            return config.default_ratio if config.default_ratio is not None else encoder.backend.default_ratio
        try:
            return check_ratio(value, "compression_ratio")
        except (TypeError, ValueError) as error:
            raise ApiError("invalid_request", str(error)) from None

    def resolve_prefix(encoder: Encoder, prompt_name: str | None) -> str:
        try:
            return encoder.resolve_prompt(prompt_name, None)
        except ValueError as error:
            raise ApiError("invalid_request", str(error)) from None

    def input_token_limit(encoder: Encoder) -> int:
        return min(config.max_input_tokens or encoder.max_length, encoder.max_length)

    def show_queue() -> None:
        metrics.queue_items.set(len(state.batcher.pending))
        metrics.queue_tokens.set(state.batcher.queued_tokens)

    async def embed(
        request: Request,
        inputs: str | list[str],
        field: str,
        *,
        ratio: float | None,
        prompt_name: str | None,
        truncate: bool | None,
    ):
        """Check, tokenise, queue and await one request's inputs.

        Returns ``(vectors, tokens per input, applied ratios, requested ratio)``, or None when the client left.
        """
        encoder = ready_encoder()
        texts = check_inputs(inputs, field)
        ratio = resolve_ratio(ratio, encoder)
        prefix = resolve_prefix(encoder, prompt_name)
        limit = input_token_limit(encoder)
        ids, counts, truncated = await asyncio.to_thread(encoder.tokenize, [prefix + t for t in texts], limit)
        if not (config.truncate if truncate is None else truncate):
            for i, cut in enumerate(truncated):
                if cut:
                    raise ApiError(
                        "input_too_long",
                        f"{field}[{i}] has {counts[i]} tokens, more than the limit of {limit}; "
                        "send truncate=true to cut it to the limit",
                    )
        try:
            items = state.batcher.submit(ids, ratio)
        except Overloaded as error:
            raise ApiError("overloaded", str(error), retry_after=error.retry_after) from None
        show_queue()
        results = asyncio.gather(*(item.future for item in items))
        gone = asyncio.create_task(_disconnected(request))
        try:
            done, _ = await asyncio.wait({results, gone}, return_when=asyncio.FIRST_COMPLETED)
            if results not in done:  # the client left: drop its queued inputs before they run
                for item in items:
                    item.future.cancel()
                results.cancel()
                return None
            vectors = results.result()
        finally:
            gone.cancel()
        degraded = [item.ratio for item in items if item.ratio != item.requested_ratio]
        if degraded:
            metrics.degraded.inc(len(degraded))
        return vectors, [len(row) for row in ids], [item.ratio for item in items], ratio

    def degraded_headers(ratio: float, applied: list[float]) -> dict[str, str]:
        if all(a == ratio for a in applied):
            return {}
        return {"X-Compression-Degraded": f"requested={ratio}; applied={min(applied)}"}

    @app.post("/v1/embeddings")
    async def openai_embeddings(body: EmbeddingsRequest, request: Request):
        encoder = ready_encoder()
        if body.dimensions is not None and body.dimensions != encoder.dimension:
            raise ApiError(
                "invalid_request",
                f"dimensions={body.dimensions} is not supported: this model's embeddings have {encoder.dimension} "
                "dimensions and were not trained to be shortened",
            )
        out = await embed(
            request, body.input, "input", ratio=body.compression_ratio, prompt_name=body.input_type,
            truncate=body.truncate,
        )  # fmt: skip
        if out is None:
            return Response(status_code=499)
        vectors, tokens, applied, ratio = out
        data = []
        for i, vector in enumerate(vectors):
            array = vector.numpy().astype("<f4")
            embedding = (
                base64.b64encode(array.tobytes()).decode() if body.encoding_format == "base64" else array.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        payload = {
            "object": "list",
            "data": data,
            "model": served_name,
            "usage": {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens)},
        }
        headers = degraded_headers(ratio, applied)
        if headers:
            payload["compression"] = {"requested": ratio, "applied": applied, "reason": "overload"}
        return JSONResponse(payload, headers=headers)

    @app.post("/embed")
    async def tei_embed(body: EmbedRequest, request: Request):
        if not body.normalize:
            raise ApiError("invalid_request", "normalize=false is not offered: embeddings are compared by cosine")
        out = await embed(
            request, body.inputs, "inputs", ratio=body.compression_ratio, prompt_name=body.prompt_name,
            truncate=body.truncate,
        )  # fmt: skip
        if out is None:
            return Response(status_code=499)
        vectors, _, applied, ratio = out
        return JSONResponse([v.tolist() for v in vectors], headers=degraded_headers(ratio, applied))

    @app.post("/tokenize")
    async def tei_tokenize(body: TokenizeRequest):
        encoder = ready_encoder()
        texts = check_inputs(body.inputs, "inputs")
        prefix = resolve_prefix(encoder, body.prompt_name)

        def tokenize() -> list[list[dict]]:
            tokenizer = encoder.tokenizer
            out = []
            for text in texts:
                encoded = tokenizer(
                    prefix + text, add_special_tokens=body.add_special_tokens, return_offsets_mapping=True,
                    return_special_tokens_mask=True, truncation=True, max_length=encoder.max_length,
                )  # fmt: skip
                tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
                out.append(
                    [
                        {"id": i, "text": t, "special": bool(s), "start": a, "stop": b}
                        for i, t, s, (a, b) in zip(
                            encoded["input_ids"], tokens, encoded["special_tokens_mask"], encoded["offset_mapping"]
                        )
                    ]
                )
            return out

        return await asyncio.to_thread(tokenize)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        body = {"status": state.status}
        if state.error:
            body["error"] = state.error
        return JSONResponse(body, status_code=200 if state.status == "ready" else 503)

    @app.get("/info")
    async def info():
        encoder = ready_encoder()
        return {
            "model": served_name,
            "model_path": config.model,
            "version": __version__,
            "dimension": encoder.dimension,
            "max_input_tokens": input_token_limit(encoder),
            "prompts": sorted(encoder.prompts),
            "compression": {
                "default_ratio": config.default_ratio or encoder.backend.default_ratio,
                "length_threshold": encoder.backend.length_threshold,
                "overload_compression": config.overload_compression,
                "overload_ratio": config.overload_ratio if config.overload_compression else None,
            },
            "limits": {
                "max_inputs": config.max_inputs,
                "max_payload_bytes": config.max_payload_bytes,
                "max_concurrent_requests": config.max_concurrent_requests,
                "max_batch_tokens": config.max_batch_tokens,
                "max_batch_size": config.max_batch_size,
                "max_wait_ms": config.max_wait_ms,
                "truncate_by_default": config.truncate,
            },
        }

    @app.get("/metrics")
    async def prometheus():
        if state.batcher is not None:
            show_queue()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.state.serving = state
    app.state.metrics = metrics
    return _Gate(app, config, state, metrics)


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (the body was already read, so the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
