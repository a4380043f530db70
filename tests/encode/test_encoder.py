"""The encoder: batch invariance, order, prompts, truncation, details and bad input."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import torch

import jasper_tc
from jasper_tc import TruncationWarning
from jasper_tc.encode import UntrainedCompressionWarning, plan_batches

WORDS = (
    "token compression shortens long inputs before the transformer layers run so that retrieval gets cheaper".split()
)


def mixed_texts(count: int = 12, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(n))) for n in rng.integers(1, 220, size=count)]


@pytest.fixture(scope="module")
def qwen3_encoder(tiny_qwen3_checkpoint):
    return jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1])
def test_embedding_does_not_depend_on_batch_mates_size_or_padding(qwen3_encoder, ratio):
    texts = mixed_texts()
    together = qwen3_encoder.encode(texts, compression_ratio=ratio, batch_size=32)
    pairs = qwen3_encoder.encode(texts, compression_ratio=ratio, batch_size=2)
    budget = qwen3_encoder.encode(texts, compression_ratio=ratio, max_tokens_per_batch=300)
    alone = np.stack([qwen3_encoder.encode(text, compression_ratio=ratio) for text in texts])
    for other in (pairs, budget, alone):
        np.testing.assert_allclose(together, other, atol=1e-5)


def test_bf16_embeddings_agree_within_bf16_rounding(tiny_qwen3_checkpoint):
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="bf16")
    texts = mixed_texts(6)
    together = encoder.encode(texts, compression_ratio=0.3)
    alone = np.stack([encoder.encode(text, compression_ratio=0.3) for text in texts])
    assert np.min(np.sum(together * alone, axis=1)) > 0.995


def test_rows_come_back_in_input_order(qwen3_encoder):
    texts = mixed_texts(8, seed=1)
    forward = qwen3_encoder.encode(texts, batch_size=3)
    backward = qwen3_encoder.encode(texts[::-1], batch_size=3)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_qwen3_tokenizer_appends_eos_and_pads_left(qwen3_encoder):
    tokenizer = qwen3_encoder.tokenizer
    assert tokenizer.padding_side == "left"
    ids, counts, truncated = qwen3_encoder.tokenize(["hello world", "hi"], max_length=100)
    assert ids[0][-1] == tokenizer.convert_tokens_to_ids("<|endoftext|>") == 151643
    assert counts == [len(ids[0]), len(ids[1])] and truncated == [False, False]


def test_prompts_come_from_the_checkpoint(qwen3_encoder):
    query = "what is token compression"
    prompt = qwen3_encoder.prompts["query"]
    assert prompt.startswith("Instruct: Given a web search query")
    np.testing.assert_allclose(qwen3_encoder.encode_query(query), qwen3_encoder.encode(query, prompt=prompt), atol=0)
    np.testing.assert_allclose(qwen3_encoder.encode_document(query), qwen3_encoder.encode(query), atol=0)
    with pytest.raises(ValueError, match=r"unknown prompt_name 'passage'.*'document', 'query'"):
        qwen3_encoder.encode(query, prompt_name="passage")
    with pytest.raises(ValueError, match="not both"):
        qwen3_encoder.encode(query, prompt_name="query", prompt="x")


def test_details_count_tokens_before_and_after_compression(qwen3_encoder):
    texts = ["short", " ".join(["compression"] * 300)]
    _, details = qwen3_encoder.encode(texts, compression_ratio=0.25, return_details=True)
    n = details[1].tokens
    assert details[0].tokens == details[0].tokens_after_compression < 80
    assert details[1].tokens_after_compression == int(80 + (n - 80) * 0.25)
    assert not details[1].truncated


def test_truncation_is_reported_once_with_counts(qwen3_encoder):
    texts = ["word " * 500, "word " * 50, "word " * 700]
    with pytest.warns(TruncationWarning, match=r"2 of 3 input\(s\) were longer than max_length=128") as record:
        _, details = qwen3_encoder.encode(texts, max_length=128, return_details=True)
    assert len([w for w in record if issubclass(w.category, TruncationWarning)]) == 1
    assert [d.truncated for d in details] == [True, False, True]
    assert details[0].tokens > 128 and details[0].tokens_after_compression == int(80 + (128 - 80) * 0.5)


def test_a_million_characters_are_cut_quickly(qwen3_encoder):
    huge = "compression " * 83_334  # 1,000,008 characters
    started = time.perf_counter()
    with pytest.warns(TruncationWarning):
        embedding, details = qwen3_encoder.encode(huge, max_length=256, return_details=True)
    assert time.perf_counter() - started < 30
    assert embedding.shape == (32,) and details[0].truncated and np.isfinite(embedding).all()


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        (None, TypeError, "texts must be a string or a list of strings, got NoneType"),
        (42, TypeError, "got int"),
        (["fine", None], TypeError, r"texts\[1\] is None"),
        (["fine", 3.5], TypeError, r"texts\[1\] is a float"),
        ([["nested"]], TypeError, r"texts\[0\] is a list.*flatten"),
        (["ok", "", "  \n"], ValueError, r"2 input\(s\) are empty or whitespace only \(texts\[1\], texts\[2\]\)"),
    ],
)
def test_bad_texts_name_the_input(qwen3_encoder, texts, error, message):
    with pytest.raises(error, match=message):
        qwen3_encoder.encode(texts)


def test_bad_arguments_name_the_argument(qwen3_encoder):
    with pytest.raises(ValueError, match=r"compression_ratio must be in \(0, 1\], got 1.5"):
        qwen3_encoder.encode("x", compression_ratio=1.5)
    with pytest.raises(ValueError, match=r"compression_ratio must be in \(0, 1\], got 0"):
        qwen3_encoder.encode("x", compression_ratio=0)
    with pytest.raises(ValueError, match="output must be 'numpy' or 'torch', got 'pandas'"):
        qwen3_encoder.encode("x", output="pandas")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        qwen3_encoder.encode("x", batch_size=0)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        qwen3_encoder.encode("x", max_length=0)
    with pytest.raises(ValueError, match="exceeds this model's limit of 4096"):
        qwen3_encoder.encode("x", max_length=5000)


def test_non_finite_embeddings_are_an_error_naming_the_texts(qwen3_encoder, monkeypatch):
    backend = qwen3_encoder.backend
    real = backend.embed
    monkeypatch.setattr(backend, "embed", lambda ids, mask, ratio: real(ids, mask, ratio) * float("nan"))
    with pytest.raises(FloatingPointError, match=r"non-finite embeddings for texts\[0\].*bf16 or fp32"):
        qwen3_encoder.encode(["a text"])


def test_a_tokenizer_larger_than_the_vocabulary_is_refused(tiny_model):
    from transformers import AutoTokenizer

    from jasper_tc.encode import JasperBackend

    from ..helpers import QWEN3_TOKENIZER

    with pytest.raises(ValueError, match=r"tokenizer has 151669 tokens but the model's embedding table only 512"):
        JasperBackend(tiny_model, AutoTokenizer.from_pretrained(QWEN3_TOKENIZER))


def test_empty_list_gives_an_empty_result(qwen3_encoder):
    assert qwen3_encoder.encode([]).shape == (0, 32)
    assert qwen3_encoder.encode([], output="torch").shape == (0, 32)


def test_outputs_and_similarity(qwen3_encoder):
    texts = mixed_texts(4)
    as_numpy = qwen3_encoder.encode(texts)
    as_torch = qwen3_encoder.encode(texts, output="torch")
    assert as_numpy.dtype == np.float32 and isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_numpy, as_torch.numpy(), atol=0)
    np.testing.assert_allclose(np.linalg.norm(as_numpy, axis=1), 1.0, atol=1e-5)
    raw = qwen3_encoder.encode(texts, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    scores = qwen3_encoder.similarity(as_numpy, as_numpy)
    assert scores.shape == (4, 4)
    np.testing.assert_allclose(np.diag(scores), 1.0, atol=1e-5)
    torch.testing.assert_close(qwen3_encoder.similarity(as_torch, as_torch), torch.from_numpy(scores))


def test_plan_batches_respects_count_and_token_budget():
    lengths = [5, 100, 30, 30, 60, 10]
    batches = plan_batches(lengths, batch_size=3, max_tokens=120)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 120
    assert batches[0] == [1]  # the longest first, alone since two of them would exceed the budget
    assert plan_batches([500], batch_size=4, max_tokens=10) == [[0]]


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model folder at"):
        jasper_tc.load(str(tmp_path / "nope"))


@pytest.mark.slow
def test_plain_sentence_transformers_model_matches_its_own_encode(minilm_path):
    from sentence_transformers import SentenceTransformer

    encoder = jasper_tc.load(minilm_path, device="cpu")
    texts = mixed_texts(10)
    ours = encoder.encode(texts, batch_size=3)
    theirs = SentenceTransformer(minilm_path, device="cpu").encode(texts)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    with pytest.warns(UntrainedCompressionWarning, match="not trained with the token compressor"):
        compressed = encoder.encode(texts, compression_ratio=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrainedCompressionWarning)  # only once per encoder
        again = encoder.encode(texts, compression_ratio=0.2, batch_size=1)
    np.testing.assert_allclose(compressed, again, atol=1e-5)
    long_rows = [i for i, t in enumerate(texts) if len(encoder.tokenizer(t)["input_ids"]) > 80]
    assert long_rows and not np.allclose(compressed[long_rows], ours[long_rows], atol=1e-3)


@pytest.mark.slow
def test_minilm_student_is_batch_invariant_through_the_encoder(minilm_path, tmp_path):
    from jasper_tc import build_student

    model, tokenizer = build_student(minilm_path, embedding_dim=64, num_layers=2, with_jasper_mlp=True)
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    encoder = jasper_tc.load(str(tmp_path), device="cpu")
    texts = mixed_texts(10, seed=3)
    together = encoder.encode(texts, compression_ratio=0.2)
    alone = np.stack([encoder.encode(t, compression_ratio=0.2) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_unreachable_hub_name_is_a_clear_error():
    with pytest.raises(OSError, match="cannot load 'nobody/no-such-model': it is no local folder"):
        jasper_tc.load("nobody/no-such-model")


@pytest.mark.slow
def test_plain_transformers_folder_gets_mean_pooling(minilm_path, tmp_path):
    import shutil
    from pathlib import Path

    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
    ):
        shutil.copy(Path(minilm_path) / name, tmp_path / name)
    plain = jasper_tc.load(str(tmp_path), device="cpu")
    texts = mixed_texts(5)
    # all-MiniLM-L6-v2 is mean pooling + normalisation, which is what a plain folder gets
    np.testing.assert_allclose(plain.encode(texts), jasper_tc.load(minilm_path, device="cpu").encode(texts), atol=1e-5)
