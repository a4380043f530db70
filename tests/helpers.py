"""Test helpers: tiny random Qwen3 configs that exercise the real 600M code path; shared data paths."""

from __future__ import annotations

from pathlib import Path

from transformers import Qwen3Config

from jasper_tc.model.release import release_backbone_config

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QWEN3_TOKENIZER = SHARED / "tokenizers" / "qwen3-embedding-0.6b"


def tiny_qwen3_config(**overrides) -> Qwen3Config:
    """Qwen3-0.6B's structure (GQA, qk-norm, RoPE) at hidden 64 and 2 layers."""
    tiny = dict(vocab_size=512, hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, pad_token_id=0)  # fmt: skip
    return release_backbone_config(**(tiny | overrides))
