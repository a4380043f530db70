"""A real uvicorn server on 127.0.0.1 in a background thread, serving a MiniLM-based Jasper-TC student."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from jasper_tc.encode import Encoder
from jasper_tc.serving import ServeConfig, create_app


@pytest.fixture(scope="session")
def minilm_student(tmp_path_factory, minilm_path) -> str:
    """The first 2 layers of all-MiniLM-L6-v2 with the compressor (near-identity MLP): real weights, 384-d."""
    from jasper_tc import build_student

    model, tokenizer = build_student(minilm_path, 384, num_layers=2, with_jasper_mlp=True, mlp_init="identity")
    model.config.max_seq_length = 512  # all of BERT's positions (sentence-transformers cuts MiniLM at 256)
    folder = tmp_path_factory.mktemp("minilm-student")
    model.save_pretrained(folder, tokenizer=tokenizer)
    return str(folder)


@pytest.fixture(scope="session")
def offline(minilm_student) -> Encoder:
    import jasper_tc

    return jasper_tc.load(minilm_student, device="cpu")


class SlowEncoder(Encoder):
    """The same model, each forward delayed: lets tests see queues, limits and shutdown in action."""

    def __init__(self, encoder: Encoder, delay_s: float) -> None:
        super().__init__(encoder.backend)
        self.delay_s = delay_s

    def embed_batch(self, token_ids, compression_ratio, *, normalize=True):
        time.sleep(self.delay_s)
        return super().embed_batch(token_ids, compression_ratio, normalize=normalize)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(config: ServeConfig, load: Callable[[], Encoder] | None = None, *, wait_ready: bool = True) -> Iterator:
    """Yield ``(base_url, server)``; on exit, shut down gracefully (bounded in time)."""
    import httpx
    import uvicorn

    port = free_port()
    app = create_app(dataclasses.replace(config, port=port), load)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=30))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    while wait_ready and httpx.get(f"{base}/ready", headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "the model did not become ready"
        time.sleep(0.05)
    try:
        yield base, server
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        assert not thread.is_alive(), "the server did not shut down"
