"""One server's model and queue, and what the routes share: readiness, input checks, queued embedding.

The model loads in the background after start-up, so ``/health`` answers at once and ``/ready`` tells
the truth. Tokenising and the forward run off the event loop; the forward through the :mod:`batcher`.
Every check here answers with an :class:`~.errors.ApiError`, never a bare exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from starlette.requests import Request
from torch import Tensor

from ..encode import EncodeOptions, Encoder
from .batcher import Batcher, Overloaded
from .config import ServeConfig
from .errors import ApiError
from .metrics import Metrics
from .threads import ThreadShare

__all__ = ["Embedded", "ServerState"]

log = logging.getLogger("jasper_tc.serving")

INLINE_TOKENIZE_CHARS = 8192  # a request up to this size is tokenised on the event loop (well under 1 ms)


@dataclass(frozen=True)
class Embedded:
    """One request's vectors, its tokens per input, and per input the ratio it was queued at (the request's,
    or lower to fit a token budget) against the one it really ran at (lower still under overload)."""

    vectors: list[Tensor]
    tokens: list[int]
    requested_ratio: float
    queued_ratios: list[float]
    applied_ratios: list[float]

    @property
    def degraded(self) -> bool:
        return any(a != q for a, q in zip(self.applied_ratios, self.queued_ratios))

    def degraded_headers(self) -> dict[str, str]:
        """``X-Compression-Degraded`` when overload compressed any input harder than asked; else nothing."""
        if not self.degraded:
            return {}
        return {"X-Compression-Degraded": f"requested={self.requested_ratio}; applied={min(self.applied_ratios)}"}


class ServerState:
    """The encoder and batcher once loaded (``status``: loading, ready or failed), and the routes' helpers."""

    def __init__(self, config: ServeConfig, metrics: Metrics, load: Callable[[], Encoder] | None = None) -> None:
        self.config, self.metrics = config, metrics
        self.load = load or self._load_from_config
        self.served_name = config.name or config.model.rstrip("/").split("/")[-1]
        self.encoder: Encoder | None = None
        self.batcher: Batcher | None = None
        self.status = "loading"
        self.error: str | None = None

    def _load_from_config(self) -> Encoder:
        from ..encode import load as load_encoder

        config = self.config
        return load_encoder(config.model, device=config.device, dtype=config.dtype, backend=config.backend)

    async def load_model(self) -> None:
        """Load, probe with one real forward, start the batcher; a failure is kept for ``/ready``, never raised."""
        config = self.config
        try:
            encoder = await asyncio.to_thread(self.load)
            if encoder.precision_probe is not None:
                log.info(encoder.precision_probe.summary())
            await asyncio.to_thread(encoder.encode, ["probe"])  # ready means a real forward worked
            on_cpu = encoder.backend.device.type == "cpu"
            workers = config.model_threads or (2 if on_cpu and torch.get_num_threads() > 1 else 1)
            self._torch_threads = torch.get_num_threads()  # restored at stop: the process may outlive the server
            embed = encoder.embed_batch
            if on_cpu and workers > 1:  # each forward on all of torch's threads when alone, else its share
                embed = partial(ThreadShare(self._torch_threads, workers).run, encoder.embed_batch)
            batcher = Batcher(
                embed,
                length_threshold=encoder.backend.length_threshold,
                max_batch_tokens=config.max_batch_tokens,
                max_batch_size=config.max_batch_size or (4 if on_cpu else 32),
                max_wait_ms=config.max_wait_ms,
                max_queue_tokens=config.max_queue_tokens,
                workers=workers,
                overload_tokens=config.overload_tokens if config.overload_compression else None,
                overload_ratio=config.overload_ratio,
                on_batch=self.metrics.batch,
                on_drop=self.metrics.dropped.inc,
            )
            batcher.start()
            self.encoder, self.batcher, self.status = encoder, batcher, "ready"
            log.info("model %s ready (%d model threads)", config.model, workers)
        except Exception as error:  # reported by /ready, never raised into the event loop
            self.status, self.error = "failed", f"{type(error).__name__}: {error}"
            log.exception("loading %s failed", config.model)

    async def stop(self) -> None:
        """Finish the queued work (graceful shutdown)."""
        if self.batcher is not None:
            await self.batcher.stop()
            torch.set_num_threads(self._torch_threads)

    def ready_encoder(self) -> Encoder:
        """The encoder, or 503 not_ready while it loads or after loading failed."""
        if self.status != "ready":
            detail = f" ({self.error})" if self.error else ""
            raise ApiError("not_ready", f"the model is {self.status}{detail}", retry_after=1)
        return self.encoder

    def check_inputs(self, inputs: str | list[str], field: str) -> list[str]:
        """The inputs as a list: not empty, not over ``max_inputs``, no blank text."""
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not texts:
            raise ApiError("invalid_request", f"{field}: the list is empty")
        if len(texts) > self.config.max_inputs:
            raise ApiError(
                "too_many_inputs", f"{field}: {len(texts)} inputs, more than the limit of {self.config.max_inputs}"
            )
        for i, text in enumerate(texts):
            if not text.strip():
                raise ApiError("invalid_request", f"{field}[{i}] is empty or whitespace; there is nothing to embed")
        return texts

    def request_options(
        self, encoder: Encoder, ratio: float | None, prompt_name: str | None, token_budget: int | None
    ) -> EncodeOptions:
        """A request's encode options, checked against the model (400 naming the bad value): its ratio, else
        the server's default, else the model's; with a ``token_budget``, each input read up to
        ``max_long_input_tokens`` and compressed to fit it."""
        if token_budget is None:
            ratio = self.config.default_ratio if ratio is None else ratio
            reading = {"max_length": self.input_token_limit(encoder)}
        else:
            reading = {
                "long_inputs": "fit",
                "token_budget": token_budget,
                "max_length": self.config.max_long_input_tokens,
            }
        try:
            options = EncodeOptions(compression_ratio=ratio, prompt_name=prompt_name, **reading)
            encoder.check(options)
        except (TypeError, ValueError) as error:
            raise ApiError("invalid_request", str(error)) from None
        return options

    def resolve_prefix(self, encoder: Encoder, prompt_name: str | None) -> str:
        """The text put before each input for the named prompt (400 for a name the model does not have)."""
        try:
            return encoder.resolve_prompt(prompt_name, None)
        except ValueError as error:
            raise ApiError("invalid_request", str(error)) from None

    def input_token_limit(self, encoder: Encoder) -> int:
        """Tokens per input: the server's limit, never more than the model's."""
        return min(self.config.max_input_tokens or encoder.max_length, encoder.max_length)

    def show_queue(self) -> None:
        """Copy the queue's length and tokens into the gauges."""
        self.metrics.queue_items.set(len(self.batcher.pending))
        self.metrics.queue_tokens.set(self.batcher.queued_tokens)

    async def embed(
        self,
        request: Request,
        inputs: str | list[str],
        field: str,
        *,
        ratio: float | None,
        prompt_name: str | None,
        truncate: bool | None,
        token_budget: int | None = None,
    ) -> Embedded:
        """Check, tokenise, queue and await one request's inputs (with a ``token_budget``: read up to
        ``max_long_input_tokens`` each and compressed to fit it).

        If the client leaves first, its inputs still queued are dropped before they run, and the request
        ends as ``client_closed`` (499).
        """
        encoder = self.ready_encoder()
        self.batcher.expect(1)  # company on its way: the batcher may wait for it
        try:
            ids, ratio, queued = await self._tokenize(
                encoder, inputs, field, ratio, prompt_name, truncate, token_budget
            )
        except BaseException:
            self.batcher.expect(-1)
            raise
        try:
            items = self.batcher.submit(ids, queued, expected=True)
        except Overloaded as error:
            raise ApiError("overloaded", str(error), retry_after=error.retry_after) from None
        self.show_queue()
        results = asyncio.gather(*(item.future for item in items))
        gone = asyncio.create_task(_disconnected(request))
        try:
            done, _ = await asyncio.wait({results, gone}, return_when=asyncio.FIRST_COMPLETED)
            if results not in done:  # the client left: drop its queued inputs before they run
                for item in items:
                    item.future.cancel()
                results.cancel()
                raise ApiError("client_closed", "the client closed the connection before its embeddings were ready")
            vectors = results.result()
        finally:
            gone.cancel()
        applied = [item.ratio for item in items]
        degraded = sum(1 for item in items if item.ratio != item.requested_ratio)
        if degraded:
            self.metrics.degraded.inc(degraded)
        return Embedded(vectors, [len(row) for row in ids], ratio, queued, applied)

    async def _tokenize(self, encoder: Encoder, inputs, field: str, ratio, prompt_name, truncate, token_budget):
        """Checked, tokenised inputs, the request's ratio, and the ratio each input is queued at.

        Small requests (a few short texts: the one-text-per-request case) are tokenised on the event loop,
        which costs less than the hop to a worker thread; larger ones in a thread, so the loop stays free.
        """
        texts = self.check_inputs(inputs, field)
        options = self.request_options(encoder, ratio, prompt_name, token_budget)
        if len(texts) <= 8 and sum(map(len, texts)) <= INLINE_TOKENIZE_CHARS:
            prepared = encoder.prepare(texts, options)
        else:
            prepared = await asyncio.to_thread(encoder.prepare, texts, options)
        if not (self.config.truncate if truncate is None else truncate):
            for i, cut in enumerate(prepared.truncated):
                if cut:
                    raise ApiError(
                        "input_too_long",
                        f"{field}[{i}] has {prepared.counts[i]} tokens, more than the limit of {prepared.plan.cap}; "
                        "send truncate=true to cut it to the limit",
                    )
        return prepared.ids, prepared.plan.ratio, prepared.ratios


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (the body was already read, so the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
