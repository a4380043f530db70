"""Padding-free batches: the valid positions of a batch packed in one row give the padded batch's embeddings."""

from __future__ import annotations

import numpy as np
import pytest

import jasper_tc

TEXTS = ["short", "a sentence of middling length about a river " * 3, "a long paragraph about mills " * 40]


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.2])
def test_packed_batches_give_the_padded_embeddings(tiny_qwen3_checkpoint, ratio):
    padded = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    packed = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", padding_free=True)
    a = padded.encode(TEXTS, compression_ratio=ratio, batch_size=8)
    b = packed.encode(TEXTS, compression_ratio=ratio, batch_size=8)
    np.testing.assert_allclose(b, a, atol=2e-5)
    alone = packed.encode(TEXTS[:1], compression_ratio=ratio)  # and a batch of one
    np.testing.assert_allclose(alone[0], a[0], atol=2e-5)


def test_backbones_that_would_mix_packed_inputs_are_refused(minilm_path, tmp_path):
    from jasper_tc import build_student

    model, tokenizer = build_student(minilm_path, embedding_dim=32, num_layers=1, seed=0)
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    encoder = jasper_tc.load(str(tmp_path), device="cpu", padding_free=True)
    with pytest.raises(ValueError, match="padding_free needs a causal backbone .* this one is 'bert'"):
        encoder.encode(TEXTS)
    with pytest.raises(ValueError, match="padding_free applies to Jasper-TC models"):
        jasper_tc.load(minilm_path, device="cpu", padding_free=True)
