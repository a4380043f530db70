"""``jasper-tc serve``: the HTTP server. Its options are ``ServeConfig``'s fields -- the same names (dashed),
types and defaults, never restated here -- each with the help text below."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Annotated

import typer

from ..serving.config import ServeConfig
from . import app

# The help of each option; an option for every field named here, in this order.
HELP = {
    "model": "Model folder or hub name.",
    "host": "Interface to bind; 0.0.0.0 exposes the server to the network.",
    "port": "Port to listen on.",
    "api_key": "Require 'Authorization: Bearer KEY' (not /health).",
    "name": "Model id the API reports; default the folder's name.",
    "max_batch_tokens": "Padded tokens (after compression) per forward.",
    "max_batch_size": "Inputs per forward; default 4 on CPU, 32 on GPU.",
    "max_wait_ms": "How long a batch waits for more inputs.",
    "model_threads": "Forwards run at once, each on its share of the CPU threads; default 2 on CPU.",
    "max_inputs": "Inputs per request.",
    "max_payload_bytes": "Request body size.",
    "max_input_tokens": "Tokens per input; default the model's limit.",
    "truncate": "Default for requests that do not say: cut long inputs or refuse.",
    "max_long_input_tokens": "Tokens read per input of a request with a token_budget (then compressed to fit).",
    "max_concurrent_requests": "Beyond this, 429 with Retry-After.",
    "max_queue_tokens": "Queued tokens beyond which requests get 429.",
    "overload_compression": "Under overload, compress queued work harder before rejecting any.",
    "overload_tokens": "Queued tokens that count as overload.",
    "overload_ratio": "The ratio queued work runs at under overload.",
    "default_ratio": "Default ratio; default the model's.",
    "device": "cpu, cuda, ...",
    "dtype": "fp32, bf16, fp16, int8 (CPU) or auto (the fastest this machine runs).",
}
OPTION_NAMES = {"default_ratio": "--compression-ratio", "api_key": "--api-key"}
ENVIRONMENT = {"api_key": "JASPER_TC_API_KEY"}


def _parameters() -> list[inspect.Parameter]:
    """One keyword parameter per option, typed and defaulted as the config's field."""
    fields = {f.name: f for f in dataclasses.fields(ServeConfig)}
    hints = typing.get_type_hints(ServeConfig)
    parameters = []
    for name, text in HELP.items():
        field = fields[name]
        names = (OPTION_NAMES[name],) if name in OPTION_NAMES else ()
        option = typer.Option(*names, help=text, envvar=ENVIRONMENT.get(name))
        default = inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        annotation = Annotated[hints[name], option]
        kind = inspect.Parameter.KEYWORD_ONLY
        parameters.append(inspect.Parameter(name, kind, default=default, annotation=annotation))
    return parameters


def serve(**options) -> None:
    """Serve embeddings over HTTP: OpenAI /v1/embeddings, TEI /embed and /tokenize, /health, /ready, /metrics."""
    from ..serving import serve as run_server

    try:
        config = ServeConfig(**options)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    run_server(config)


serve.__signature__ = inspect.Signature(_parameters(), return_annotation=None)
serve.__annotations__ = {p.name: p.annotation for p in serve.__signature__.parameters.values()}
app.command(rich_help_panel="Serving")(serve)
