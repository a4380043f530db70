"""An embedding server: OpenAI- and TEI-style HTTP on FastAPI + uvicorn, batching across requests,
compression chosen per request. The encoder knows nothing of HTTP; this package is its only face."""

from __future__ import annotations

from .app import create_app
from .config import ServeConfig
from .errors import KINDS, ApiError

__all__ = ["KINDS", "ApiError", "ServeConfig", "create_app", "serve"]


def serve(config: ServeConfig) -> None:
    """Run the server until SIGINT/SIGTERM; in-flight requests finish first (up to ``graceful_timeout_s``)."""
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="info",
        timeout_graceful_shutdown=config.graceful_timeout_s,
    )
