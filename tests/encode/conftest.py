"""The tiny Qwen3 Jasper-TC with a small window, for the long-input tests: inputs past it are cheap to make."""

from __future__ import annotations

import pytest

import jasper_tc


@pytest.fixture(scope="module")
def encoder(tiny_qwen3_checkpoint):
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    encoder.backend.max_length = 256  # a small window for the test (the backbone has 4,096 positions)
    encoder.backend.position_limit = 256
    return encoder
