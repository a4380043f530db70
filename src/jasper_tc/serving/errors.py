"""Every error the server returns comes from one table: kind -> HTTP status and OpenAI error type.

The body is always OpenAI's shape, ``{"error": {"message", "type", "code"}}``; a message says which
input and which limit, and never carries a stack trace.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

__all__ = ["KINDS", "ApiError", "error_response"]

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
    "internal": (500, "server_error"),
    "not_ready": (503, "server_error"),
}


class ApiError(Exception):
    def __init__(self, kind: str, message: str, *, retry_after: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind, self.message, self.retry_after = kind, message, retry_after
        super().__init__(message)

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]


def error_response(error: ApiError) -> JSONResponse:
    status, kind_type = KINDS[error.kind]
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    if error.kind == "unauthorized":
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    body = {"error": {"message": error.message, "type": kind_type, "code": error.kind}}
    return JSONResponse(body, status_code=status, headers=headers)
