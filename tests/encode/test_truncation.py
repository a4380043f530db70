"""Ids cut after one tokenizer pass are the ids the tokenizer's own truncation gives, on both real tokenizers."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from jasper_tc.encode.truncation import special_ends, truncate_ids

from ..helpers import QWEN3_TOKENIZER

TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 40,
    "Ein kurzer Satz, dann noch einer; und ein dritter: unaufhaltsam. " * 30,
    "长文本的截断必须与分词器自身的截断一致。" * 50,
]


@pytest.fixture(scope="module", params=["minilm", "qwen3"])
def tokenizer(request, minilm_path):
    return AutoTokenizer.from_pretrained(minilm_path if request.param == "minilm" else QWEN3_TOKENIZER)


def test_special_tokens_found_where_the_tokenizer_puts_them(tokenizer):
    head, tail = special_ends(tokenizer)
    with_special = tokenizer("x y")["input_ids"]
    assert head + tail == len(with_special) - len(tokenizer("x y", add_special_tokens=False)["input_ids"])
    assert head + tail > 0  # both tokenizers add at least one (BERT's [CLS]/[SEP], Qwen3's end of text)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("max_length", [8, 64, 257])
def test_cut_ids_match_the_tokenizers_truncation(tokenizer, side, max_length):
    tokenizer.truncation_side = side
    try:
        full = tokenizer(TEXTS)["input_ids"]
        assert all(len(row) > max_length for row in full)
        expected = tokenizer(TEXTS, truncation=True, max_length=max_length)["input_ids"]
        assert truncate_ids(tokenizer, full, max_length) == expected
    finally:
        tokenizer.truncation_side = "right"


def test_encoder_tokenizes_a_long_text_once(minilm_path):
    from jasper_tc.encode import load

    encoder = load(minilm_path, device="cpu")
    encoder.tokenize(TEXTS[1:2], 32)  # the tokenizer's special tokens probed once, and kept
    calls = []
    real = encoder.backend.tokenizer.__class__.__call__

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("truncation"))
        return real(self, *args, **kwargs)

    encoder.backend.tokenizer.__class__.__call__ = counting
    try:
        ids, counts, truncated = encoder.tokenize(TEXTS[:1], 32)
    finally:
        encoder.backend.tokenizer.__class__.__call__ = real
    assert calls == [False]  # one pass, no second one with truncation
    assert len(ids[0]) == 32 and counts[0] > 32 and truncated == [True]
    assert ids[0] == encoder.tokenizer(TEXTS[:1], truncation=True, max_length=32)["input_ids"][0]


def test_timed_documents_hold_exactly_the_length(minilm_path):
    """A 256-token cell times documents of 256 tokens, not longer texts cut inside the timed encode."""
    from jasper_tc.encode import load
    from jasper_tc.evaluation.report import documents_of_length

    encoder = load(minilm_path, device="cpu")
    for length in (40, 128):
        texts = documents_of_length(encoder, TEXTS[:2], length)
        assert [len(row) for row in encoder.tokenizer(texts)["input_ids"]] == [length, length]
