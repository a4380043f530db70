"""``jasper-tc serve``: the HTTP server; its option defaults are ``ServeConfig``'s own."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Annotated

import typer

from ..serving.config import ServeConfig
from . import app

# The serve command's defaults are the config's own, never restated (the config needs no serve extra).
SERVE_DEFAULTS = SimpleNamespace(
    **{f.name: f.default for f in dataclasses.fields(ServeConfig) if f.default is not dataclasses.MISSING}
)


@app.command(rich_help_panel="Serving")
def serve(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the server to the network.")
    ] = SERVE_DEFAULTS.host,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = SERVE_DEFAULTS.port,
    api_key: Annotated[
        str | None, typer.Option(envvar="JASPER_TC_API_KEY", help="Require 'Authorization: Bearer KEY' (not /health).")
    ] = SERVE_DEFAULTS.api_key,
    name: Annotated[
        str | None, typer.Option(help="Model id the API reports; default the folder's name.")
    ] = SERVE_DEFAULTS.name,
    max_batch_tokens: Annotated[
        int, typer.Option(help="Padded tokens (after compression) per forward.")
    ] = SERVE_DEFAULTS.max_batch_tokens,
    max_batch_size: Annotated[
        int | None, typer.Option(help="Inputs per forward; default 4 on CPU, 32 on GPU.")
    ] = SERVE_DEFAULTS.max_batch_size,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a batch waits for more inputs.")
    ] = SERVE_DEFAULTS.max_wait_ms,
    model_threads: Annotated[
        int | None, typer.Option(help="Forwards run at once, each on its share of the CPU threads; default 2 on CPU.")
    ] = SERVE_DEFAULTS.model_threads,
    max_inputs: Annotated[int, typer.Option(help="Inputs per request.")] = SERVE_DEFAULTS.max_inputs,
    max_payload_bytes: Annotated[int, typer.Option(help="Request body size.")] = SERVE_DEFAULTS.max_payload_bytes,
    max_input_tokens: Annotated[
        int | None, typer.Option(help="Tokens per input; default the model's limit.")
    ] = SERVE_DEFAULTS.max_input_tokens,
    truncate: Annotated[
        bool, typer.Option(help="Default for requests that do not say: cut long inputs or refuse.")
    ] = SERVE_DEFAULTS.truncate,
    max_long_input_tokens: Annotated[
        int, typer.Option(help="Tokens read per input of a request with a token_budget (then compressed to fit).")
    ] = SERVE_DEFAULTS.max_long_input_tokens,
    max_concurrent_requests: Annotated[
        int, typer.Option(help="Beyond this, 429 with Retry-After.")
    ] = SERVE_DEFAULTS.max_concurrent_requests,
    max_queue_tokens: Annotated[
        int, typer.Option(help="Queued tokens beyond which requests get 429.")
    ] = SERVE_DEFAULTS.max_queue_tokens,
    overload_compression: Annotated[
        bool, typer.Option(help="Under overload, compress queued work harder before rejecting any.")
    ] = SERVE_DEFAULTS.overload_compression,
    overload_tokens: Annotated[
        int, typer.Option(help="Queued tokens that count as overload.")
    ] = SERVE_DEFAULTS.overload_tokens,
    overload_ratio: Annotated[
        float, typer.Option(help="The ratio queued work runs at under overload.")
    ] = SERVE_DEFAULTS.overload_ratio,
    compression_ratio: Annotated[
        float | None, typer.Option(help="Default ratio; default the model's.")
    ] = SERVE_DEFAULTS.default_ratio,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = SERVE_DEFAULTS.device,
    dtype: Annotated[
        str | None, typer.Option(help="fp32, bf16, fp16, int8 (CPU) or auto (the fastest this machine runs).")
    ] = SERVE_DEFAULTS.dtype,
) -> None:
    """Serve embeddings over HTTP: OpenAI /v1/embeddings, TEI /embed and /tokenize, /health, /ready, /metrics."""
    from ..serving import serve as run_server

    try:
        config = ServeConfig(
            model=model, name=name, host=host, port=port, api_key=api_key, device=device, dtype=dtype,
            max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
            model_threads=model_threads,
            max_inputs=max_inputs, max_payload_bytes=max_payload_bytes, max_input_tokens=max_input_tokens,
            max_long_input_tokens=max_long_input_tokens,
            truncate=truncate, max_concurrent_requests=max_concurrent_requests, max_queue_tokens=max_queue_tokens,
            overload_compression=overload_compression, overload_tokens=overload_tokens,
            overload_ratio=overload_ratio, default_ratio=compression_ratio,
        )  # fmt: skip
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    run_server(config)
