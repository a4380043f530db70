"""An embedding server: OpenAI- and TEI-style HTTP on FastAPI + uvicorn, batching across requests,
compression chosen per request. The encoder knows nothing of HTTP; this package is its only face.

Modules, each with one job: :mod:`.config` (what a server accepts), :mod:`.schemas` (request bodies),
:mod:`.errors` (the one error table), :mod:`.gate` (key, limits and metrics before routing),
:mod:`.batcher` (one queue, batches across requests), :mod:`.state` (the model, its queue and the
routes' shared checks), :mod:`.metrics` (Prometheus), :mod:`.app` (the routes).

:class:`ServeConfig` needs nothing beyond the package's own dependencies (the command line reads its
defaults); everything else needs the ``serve`` extra and is imported when first used.
"""

from __future__ import annotations

from .config import ServeConfig

__all__ = ["KINDS", "ApiError", "ServeConfig", "create_app", "serve"]

_LAZY = {"create_app": ".app", "KINDS": ".errors", "ApiError": ".errors"}  # need fastapi / starlette


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def serve(config: ServeConfig) -> None:
    """Run the server until SIGINT/SIGTERM; in-flight requests finish first (up to ``graceful_timeout_s``)."""
    import uvicorn

    from .app import create_app

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="info",
        timeout_graceful_shutdown=config.graceful_timeout_s,
    )
