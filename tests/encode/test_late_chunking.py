"""Late chunking: a vector per window of text, each pooled from one forward over a whole (compressed) segment."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import jasper_tc
from jasper_tc import EncodeOptions
from jasper_tc.model import configure_compression, span_means

from .test_long_inputs import long_texts


def test_span_means_pool_each_stretch_and_weigh_back_to_the_whole_mean():
    states = torch.randn(2, 6, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1]])
    where = torch.tensor([[0.0, 1.5, 2.0, 4.0, 5.5, 0.0], [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]])
    means, counts = span_means(states, mask, where, span=2)
    assert counts.tolist() == [[2, 1, 2], [2, 2, 1]]
    assert torch.allclose(means[0, 0], states[0, :2].mean(0)) and torch.allclose(means[0, 1], states[0, 2])
    assert torch.allclose(means[1, 2], states[1, 5])  # left padding: the first valid token is place 0
    whole = (means * counts.unsqueeze(-1)).sum(1) / counts.sum(1, keepdim=True)
    assert torch.allclose(whole, jasper_tc.model.mean_pool(states, mask), atol=1e-6)


@pytest.mark.parametrize("pool", ["mean", "merge"])
def test_the_model_spans_weigh_back_to_its_embedding_and_are_the_same_alone_as_in_a_batch(tiny_model, pool):
    model = configure_compression(tiny_model, pool=pool, keep_ends=1)
    torch.manual_seed(1)
    ids = torch.randint(3, 200, (2, 300))
    mask = torch.ones_like(ids)
    mask[1, :60] = 0  # the second input is shorter (left padding, as Qwen3's tokenizer pads)
    with torch.no_grad():
        embedding = model(ids, mask, compression_ratio=0.3)
        spans, counts = model.span_embeddings(ids, mask, 0.3, span=64)
        alone, alone_counts = model.span_embeddings(ids[1:, 60:], mask[1:, 60:], 0.3, span=64)
    assert counts[0].tolist().count(0) == 0 and counts.shape[1] == 5  # 300 tokens: 5 stretches of 64
    whole = (spans * counts.unsqueeze(-1)).sum(1) / counts.sum(1, keepdim=True)
    assert torch.allclose(whole, embedding.float(), atol=1e-4)
    kept = alone_counts[0] > 0
    assert torch.allclose(spans[1][: int(kept.sum())], alone[0][kept], atol=1e-4)


def test_late_chunking_keeps_a_vector_per_window_of_each_segment(encoder):
    words = [f"topic{i % 89} word{i % 7}" for i in range(800)]  # windows unlike one another
    texts = [" ".join(words), " ".join(words[:400]), *long_texts([60], encoder)]
    settings = {"long_inputs": "segments", "token_budget": 200, "segment_length": 1024, "max_length": 4000}
    plain = encoder.encode(texts, **settings)
    vectors, details = encoder.encode(texts, **settings, late_chunking=True, return_segments=True, return_details=True)
    segments = encoder.encode(texts, **settings, return_segments=True)
    for rows, per_segment, detail in zip(vectors, segments, details):
        assert rows.shape[0] >= -(-min(detail.tokens, 4000) // 256)  # at least a vector per window of text
        assert rows.shape[0] > per_segment.shape[0] or detail.tokens <= 256
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert vectors[2].shape[0] == 1  # a short text is one window: its vector is its embedding
    np.testing.assert_allclose(vectors[2][0], plain[2], atol=1e-5)
    late = encoder.encode(texts, **settings, late_chunking=True)
    np.testing.assert_allclose(late[2], plain[2], atol=1e-5)
    assert np.abs(late[0] - plain[0]).max() > 1e-4  # windows normalised before they are averaged (exact: MiniLM)


def test_fit_with_late_chunking_pools_windows_of_one_forward(minilm_path):
    """On the real MiniLM at ratio 1: each window's vector is the mean of the model's token states in it."""
    from sentence_transformers import SentenceTransformer

    encoder = jasper_tc.load(minilm_path, device="cpu")
    text = "Late chunking reads a long text once and pools each window of its tokens. " * 30
    count = len(encoder.tokenizer(text)["input_ids"])
    assert 256 < count <= 512
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = encoder.encode(
            text, long_inputs="fit", token_budget=512, max_length=512, late_chunking=True, return_segments=True
        )
    model = SentenceTransformer(minilm_path, device="cpu")
    model.max_seq_length = 512  # its setting is 256; the backbone has 512 positions
    states = model.encode(text, output_value="token_embeddings")
    windows = torch.nn.functional.normalize(torch.stack([states[:256].mean(0), states[256:].mean(0)]), dim=-1)
    assert rows.shape == (2, encoder.dimension)
    np.testing.assert_allclose(rows, windows.numpy(), atol=1e-4)
    # the embedding: the windows' vectors averaged by their tokens, as chunk-and-mean averages its windows'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = encoder.encode(text, long_inputs="fit", token_budget=512, max_length=512, late_chunking=True)
    mean = (256 * windows[0] + (count - 256) * windows[1]) / count
    np.testing.assert_allclose(single, torch.nn.functional.normalize(mean, dim=0).numpy(), atol=1e-4)
    # shorter stretches: a vector per 100 tokens of the same forward
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fine = encoder.encode(text, long_inputs="fit", token_budget=512, max_length=512, late_chunking=True,
                              late_chunk_length=100, return_segments=True)  # fmt: skip
    stretches = [states[start : start + 100].mean(0) for start in range(0, count, 100)]
    assert fine.shape == (-(-count // 100), encoder.dimension)
    np.testing.assert_allclose(fine, torch.nn.functional.normalize(torch.stack(stretches), dim=-1).numpy(), atol=1e-4)


def test_late_chunking_is_refused_where_it_means_nothing(encoder, tiny_model):
    with pytest.raises(ValueError, match="late_chunking goes with long_inputs='fit' or 'segments'"):
        EncodeOptions(long_inputs="chunk", late_chunking=True)
    with pytest.raises(ValueError, match="late_chunking must be True or False"):
        EncodeOptions(long_inputs="fit", late_chunking="yes")
    assert "late_chunking" not in EncodeOptions(long_inputs="segments").source()  # older stores keep their header
    with pytest.raises(ValueError, match="late_chunk_length goes with late_chunking=True"):
        EncodeOptions(long_inputs="segments", late_chunk_length=64)
    with pytest.raises(ValueError, match="late_chunk_length must be a positive integer, got 0"):
        EncodeOptions(long_inputs="segments", late_chunking=True, late_chunk_length=0)
    assert "late_chunk_length" not in EncodeOptions(long_inputs="segments", late_chunking=True).source()
    finer = EncodeOptions(long_inputs="fit", late_chunking=True, late_chunk_length=64)
    assert finer.source()["late_chunk_length"] == 64
    tiny_model.config.compress_after_layer = 1
    with pytest.raises(ValueError, match="late chunking needs the pool before the backbone"):
        tiny_model.span_embeddings(torch.ones(1, 100, dtype=torch.long), torch.ones(1, 100), 0.5, span=32)


@pytest.mark.parametrize("length", [None, 2048])
def test_encode_writes_a_row_per_window_with_late_chunking(tiny_qwen3_checkpoint, tmp_path, length):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from jasper_tc.cli import app

    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    texts = ["compression " * 6000, "a short text"]
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(f'{{"id": "d{i}", "text": "{t}"}}\n' for i, t in enumerate(texts)))
    args = ["encode", "--model", tiny_qwen3_checkpoint, "--input", str(source), "--id-field", "id", "--device", "cpu"]
    args += ["--long-inputs", "fit", "--token-budget", "1024", "--max-length", "9000", "--segments", "--late-chunking"]
    args += ["--late-chunk-length", str(length)] if length else []
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "rows.parquet")])
    assert result.exit_code == 0, result.output
    expected = encoder.encode(
        texts, long_inputs="fit", token_budget=1024, max_length=9000, late_chunking=True, return_segments=True,
        late_chunk_length=length,
    )  # fmt: skip
    # 6,000 tokens read in one forward: a vector per window of 4,096, or per 2,048 tokens where asked
    stretches = 3 if length else 2
    assert len(expected[0]) == stretches
    table = pq.read_table(tmp_path / "rows.parquet").to_pydict()
    assert table["id"] == ["d0"] * stretches + ["d1"] and table["segment"] == [*range(stretches), 0]
    np.testing.assert_allclose(np.array(table["embedding"]), np.concatenate(expected), atol=1e-5)
