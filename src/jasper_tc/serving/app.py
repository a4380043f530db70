"""The HTTP face of an :class:`~jasper_tc.encode.Encoder`: OpenAI- and TEI-style routes, with per-request ratio.

Routes: ``POST /v1/embeddings`` (OpenAI; extensions ``compression_ratio``, ``input_type``, ``truncate``),
``POST /embed`` and ``POST /tokenize`` (TEI), ``GET /health`` (alive), ``GET /ready`` (model loaded and
a probe encode succeeded), ``GET /info``, ``GET /metrics`` (Prometheus).

Only the HTTP shapes live here: the :mod:`gate` checks every request first, :mod:`state` holds the model,
its queue and the checks the routes share, :mod:`errors` turns every failure into one body shape.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..encode import Encoder
from .config import ServeConfig
from .errors import ApiError, error_response, note_kind
from .gate import Gate
from .metrics import Metrics
from .schemas import EmbeddingsRequest, EmbedRequest, TokenizeRequest
from .state import ServerState

__all__ = ["create_app"]

log = logging.getLogger("jasper_tc.serving")


def create_app(config: ServeConfig, load: Callable[[], Encoder] | None = None) -> Gate:
    """The server's ASGI app. ``load`` builds the encoder (default: ``jasper_tc.load(config.model, ...)``).

    The FastAPI app inside the gate keeps the :class:`ServerState` and the :class:`Metrics` as
    ``app.state.serving`` and ``app.state.metrics``.
    """
    metrics = Metrics()
    serving = ServerState(config, metrics, load)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(serving.load_model())
        yield
        await loading
        await serving.stop()  # finishes queued work

    app = FastAPI(title="jasper-tc", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    _add_error_handlers(app)
    _add_embedding_routes(app, serving)
    _add_status_routes(app, serving)
    app.state.serving = serving
    app.state.metrics = metrics
    return Gate(app, config, metrics)


TOKEN_IDS_REFUSED = (
    "input: token ids are not accepted; send the texts as strings (this server tokenizes with the model's own "
    "tokenizer). LangChain's OpenAIEmbeddings sends token ids unless given check_embedding_ctx_length=False"
)


def _token_ids_given(error: RequestValidationError) -> bool:
    """Whether ``input`` held integers (token ids, or lists of them), as OpenAI's API allows and clients send."""
    for problem in error.errors():
        loc = [x for x in problem.get("loc", ()) if x != "body"]
        value = problem.get("input")
        if loc[:1] == ["input"] and (_ids(value) or (isinstance(value, list) and value and all(map(_ids, value)))):
            return True
    return False


def _ids(value: object) -> bool:
    """A token id or a non-empty list of them."""
    if isinstance(value, list):
        return bool(value) and all(_ids(x) and not isinstance(x, list) for x in value)
    return isinstance(value, int) and not isinstance(value, bool)


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure, FastAPI's own included, answers in the one shape of :mod:`errors`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(error, request.scope)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        if _token_ids_given(error):
            return error_response(ApiError("invalid_request", TOKEN_IDS_REFUSED), request.scope)
        parts = []
        for problem in error.errors()[:5]:
            where = ".".join(str(x) for x in problem.get("loc", ()) if x != "body")
            parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
        return error_response(ApiError("invalid_request", "; ".join(parts)), request.scope)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid_request")
        message = f"no route {request.method} {request.url.path}" if kind != "invalid_request" else str(error.detail)
        return error_response(ApiError(kind, message), request.scope)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(ApiError("internal", "internal error; see the server log"), request.scope)


def _add_embedding_routes(app: FastAPI, serving: ServerState) -> None:
    """``/v1/embeddings`` (OpenAI), ``/embed`` and ``/tokenize`` (TEI)."""

    @app.post("/v1/embeddings")
    async def openai_embeddings(body: EmbeddingsRequest, request: Request):
        encoder = serving.ready_encoder()
        if body.dimensions is not None and body.dimensions != encoder.dimension:
            raise ApiError(
                "invalid_request",
                f"dimensions={body.dimensions} is not supported: this model's embeddings have {encoder.dimension} "
                "dimensions and were not trained to be shortened",
            )
        out = await serving.embed(
            request, body.input, "input", ratio=body.compression_ratio, prompt_name=body.input_type,
            truncate=body.truncate, token_budget=body.token_budget,
        )  # fmt: skip
        data = []
        for i, vector in enumerate(out.vectors):
            array = vector.numpy().astype("<f4")
            embedding = (
                base64.b64encode(array.tobytes()).decode() if body.encoding_format == "base64" else array.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        payload = {
            "object": "list",
            "data": data,
            "model": serving.served_name,
            "usage": {"prompt_tokens": sum(out.tokens), "total_tokens": sum(out.tokens)},
        }
        headers = out.degraded_headers()
        if headers:
            payload["compression"] = {"requested": out.requested_ratio, "applied": out.applied_ratios,
                                      "reason": "overload"}  # fmt: skip
        return JSONResponse(payload, headers=headers)

    @app.post("/embed")
    async def tei_embed(body: EmbedRequest, request: Request):
        if not body.normalize:
            raise ApiError("invalid_request", "normalize=false is not offered: embeddings are compared by cosine")
        out = await serving.embed(
            request, body.inputs, "inputs", ratio=body.compression_ratio, prompt_name=body.prompt_name,
            truncate=body.truncate, token_budget=body.token_budget,
        )  # fmt: skip
        return JSONResponse([v.tolist() for v in out.vectors], headers=out.degraded_headers())

    @app.post("/tokenize")
    async def tei_tokenize(body: TokenizeRequest):
        encoder = serving.ready_encoder()
        texts = serving.check_inputs(body.inputs, "inputs")
        prefix = serving.resolve_prefix(encoder, body.prompt_name)
        return await asyncio.to_thread(_token_table, encoder, [prefix + t for t in texts], body.add_special_tokens)


def _token_table(encoder: Encoder, texts: list[str], add_special_tokens: bool) -> list[list[dict]]:
    """TEI's ``/tokenize`` answer: per text, each token's id, text, whether special, and its character span."""
    tokenizer = encoder.tokenizer
    out = []
    for text in texts:
        encoded = tokenizer(
            text, add_special_tokens=add_special_tokens, return_offsets_mapping=True,
            return_special_tokens_mask=True, truncation=True, max_length=encoder.max_length,
        )  # fmt: skip
        tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        rows = zip(encoded["input_ids"], tokens, encoded["special_tokens_mask"], encoded["offset_mapping"])
        out.append([{"id": i, "text": t, "special": bool(s), "start": a, "stop": b} for i, t, s, (a, b) in rows])
    return out


def _add_status_routes(app: FastAPI, serving: ServerState) -> None:
    """``/health``, ``/ready``, ``/info`` and ``/metrics``."""
    config, metrics = serving.config, serving.metrics

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request):
        body = {"status": serving.status}
        if serving.error:
            body["error"] = serving.error
        if serving.status != "ready":
            note_kind(request.scope, "not_ready")
        return JSONResponse(body, status_code=200 if serving.status == "ready" else 503)

    @app.get("/info")
    async def info():
        encoder = serving.ready_encoder()
        return {
            "model": serving.served_name,
            "model_path": config.model,
            "version": __version__,
            "dimension": encoder.dimension,
            "precision": encoder.precision,  # how the forward runs (dtype auto: what the probe picked)
            "max_input_tokens": serving.input_token_limit(encoder),
            "prompts": sorted(encoder.prompts),
            "compression": {
                "default_ratio": config.default_ratio or encoder.backend.default_ratio,
                "length_threshold": encoder.backend.length_threshold,
                "overload_compression": config.overload_compression,
                "overload_ratio": config.overload_ratio if config.overload_compression else None,
            },
            "long_inputs": {  # a request's token_budget: each input read to max_tokens, compressed to fit
                "max_tokens": config.max_long_input_tokens,
                "default_token_budget": encoder.max_length,
                "max_token_budget": encoder.backend.position_limit,
            },
            "limits": {
                "max_inputs": config.max_inputs,
                "max_payload_bytes": config.max_payload_bytes,
                "max_concurrent_requests": config.max_concurrent_requests,
                "max_batch_tokens": config.max_batch_tokens,
                "max_batch_size": serving.batcher.max_batch_size,  # as resolved for this device
                "max_wait_ms": config.max_wait_ms,
                "model_threads": serving.batcher.workers,
                "truncate_by_default": config.truncate,
            },
        }

    @app.get("/metrics")
    async def prometheus():
        if serving.batcher is not None:
            serving.show_queue()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")
