"""What a server accepts and how it batches; every limit named here is enforced and reported by name."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import check_ratio

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    model: str  # a folder or hub name that jasper_tc.load reads
    name: str | None = None  # the model id the API reports; default: the folder's name
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None  # required as "Authorization: Bearer KEY" on every route but /health
    device: str | None = None
    dtype: str | None = None
    backend: str = "torch"  # torch, openvino (CPU; the openvino extra) or auto (every runtime, probed at start)
    # Batching: padded tokens after compression per forward, inputs per forward, wait for company.
    max_batch_tokens: int = 16384
    # None: 4 on a CPU (matmuls are efficient from a few hundred rows; padding is waste), 32 on a GPU.
    max_batch_size: int | None = None
    max_wait_ms: float = 5.0
    # Forwards run at once, each in its own thread on its share of torch's CPU threads. None: 2 on a CPU
    # (one forward on every core stalls at each op whenever the server's own work takes a core; two on
    # half each lose only the one that was paused), 1 on a GPU.
    model_threads: int | None = None
    # Limits per request, and on the server as a whole.
    max_inputs: int = 512
    max_payload_bytes: int = 8 * 1024 * 1024
    max_input_tokens: int | None = None  # None: the model's max length
    # Requests with a token_budget are read up to this many tokens per input, then compressed to fit.
    max_long_input_tokens: int = 32_768
    truncate: bool = False  # default for requests that do not say: cut long inputs (True) or refuse them (413)
    max_concurrent_requests: int = 256
    max_queue_tokens: int = 1_000_000
    # Under overload, compress queued work harder before rejecting any (off by default).
    overload_compression: bool = False
    overload_tokens: int = 65536  # queued tokens (after compression) above which queued work is compressed harder
    overload_ratio: float = 0.33
    default_ratio: float | None = None  # None: the model's default
    graceful_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        for key in ("max_batch_tokens", "max_inputs", "max_payload_bytes", "max_concurrent_requests",
                    "max_queue_tokens", "overload_tokens", "max_long_input_tokens"):  # fmt: skip
            if getattr(self, key) < 1:
                problems.append(f"{key} must be at least 1, got {getattr(self, key)}")
        for key in ("max_batch_size", "model_threads"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                problems.append(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.max_input_tokens is not None and self.max_input_tokens < 1:
            problems.append(f"max_input_tokens must be at least 1, got {self.max_input_tokens}")
        if self.max_wait_ms < 0:
            problems.append(f"max_wait_ms must be at least 0, got {self.max_wait_ms}")
        for key in ("overload_ratio", "default_ratio"):
            if getattr(self, key) is not None:
                try:
                    check_ratio(getattr(self, key), key)
                except ValueError as error:
                    problems.append(str(error))
        if self.backend not in ("torch", "openvino", "auto"):
            problems.append(f"backend must be torch, openvino or auto, got {self.backend!r}")
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be in 0..65535, got {self.port}")
        if self.api_key is not None and len(self.api_key) < 8:
            problems.append("api_key must be at least 8 characters")
        if problems:
            raise ValueError("; ".join(problems))
