"""Every error the server returns comes from one table: kind -> HTTP status and OpenAI error type.

The body is always OpenAI's shape, ``{"error": {"message", "type", "code"}}``; a message says which
input and which limit, and never carries a stack trace. The response that answers an error also notes
its kind in the request's ASGI ``scope["state"]``, where the :mod:`gate` reads it to count errors by kind.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from starlette.responses import JSONResponse

__all__ = ["KINDS", "ApiError", "error_response", "note_kind", "noted_kind"]

# kind -> (status, OpenAI error type)
KINDS: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "invalid_request_error"),
    "unauthorized": (401, "authentication_error"),
    "not_found": (404, "not_found_error"),
    "method_not_allowed": (405, "invalid_request_error"),
    "payload_too_large": (413, "invalid_request_error"),
    "too_many_inputs": (413, "invalid_request_error"),
    "input_too_long": (413, "invalid_request_error"),
    "overloaded": (429, "rate_limit_error"),
    "too_many_requests": (429, "rate_limit_error"),
    "client_closed": (499, "invalid_request_error"),  # nobody reads it; the status and the metrics say why
    "internal": (500, "server_error"),
    "not_ready": (503, "server_error"),
}

_KIND_KEY = "jasper_tc.error_kind"  # in scope["state"], which every Request of one HTTP request shares


class ApiError(Exception):
    def __init__(self, kind: str, message: str, *, retry_after: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind, self.message, self.retry_after = kind, message, retry_after
        super().__init__(message)

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]


def error_response(error: ApiError, scope: MutableMapping | None = None) -> JSONResponse:
    """The error's response; given the request's ``scope``, also note the kind there for the metrics."""
    if scope is not None:
        note_kind(scope, error.kind)
    status, kind_type = KINDS[error.kind]
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    if error.kind == "unauthorized":
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    body = {"error": {"message": error.message, "type": kind_type, "code": error.kind}}
    return JSONResponse(body, status_code=status, headers=headers)


def note_kind(scope: MutableMapping, kind: str) -> None:
    """Say which kind of error this request is answered with (for an error response not built here)."""
    if kind not in KINDS:
        raise ValueError(f"unknown error kind {kind!r}")
    scope.setdefault("state", {})[_KIND_KEY] = kind


def noted_kind(scope: MutableMapping) -> str | None:
    """The kind noted for this request, if any."""
    return scope.get("state", {}).get(_KIND_KEY)
