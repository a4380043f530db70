"""Inputs past the window: truncate, compress to fit a token budget, or chunk and average."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import jasper_tc
from jasper_tc.encode.long_inputs import Chunks, combine_chunks, split_chunks
from jasper_tc.model import compressed_length

from .test_encoder import mixed_texts


def long_texts(tokens: list[int], encoder) -> list[str]:
    """Texts of about the given token counts."""
    word = "compression "
    per_word = len(encoder.tokenizer(word * 50, add_special_tokens=False)["input_ids"]) / 50
    return [word * int(n / per_word) for n in tokens]


def test_fit_gives_each_input_the_largest_ratio_that_fits_and_reads_past_the_window(encoder):
    texts = [*long_texts([100, 700, 3000], encoder), "short"]
    vectors, details = encoder.encode(texts, long_inputs="fit", token_budget=200, max_length=4000, return_details=True)
    assert not any(d.truncated for d in details)
    assert [d.tokens_after_compression for d in details] == [min(d.tokens, 200) for d in details]
    assert details[0].ratio == 1.0 and details[-1].ratio == 1.0 and 0 < details[2].ratio < details[1].ratio < 1
    # one batch of mixed ratios gives what each input gives alone at its own ratio
    for text, vector, detail in zip(texts, vectors, details):
        alone = encoder.encode(text, compression_ratio=detail.ratio, max_length=256) if detail.tokens <= 256 else None
        if alone is not None:
            np.testing.assert_allclose(vector, alone, atol=1e-5)
    batched = encoder.encode(texts, long_inputs="fit", token_budget=200, max_length=4000, batch_size=1)
    np.testing.assert_allclose(vectors, batched, atol=1e-5)
    # a ratio asked for is a ceiling: inputs that fit the budget still run at it
    _, capped = encoder.encode(texts, long_inputs="fit", token_budget=200, max_length=4000, compression_ratio=0.5,
                               return_details=True)  # fmt: skip
    assert [d.ratio for d in capped] == [0.5, details[1].ratio, details[2].ratio, 0.5]


def test_chunk_averages_overlapping_windows_weighted_by_their_tokens(encoder):
    texts = [*long_texts([1000], encoder), "short text"]
    vectors, details = encoder.encode(
        texts, long_inputs="chunk", chunk_overlap=16, max_length=4000, return_details=True
    )
    assert details[0].chunks > 3 and details[1].chunks == 1 and not details[0].truncated
    ids, _, _ = encoder.tokenize(texts, 4000)
    chunks = split_chunks(ids, encoder.tokenizer, 256, 16)
    assert all(len(row) <= 256 for row in chunks.ids)
    eos = ids[0][-1]  # the Qwen3 tokenizer appends EOS: every window ends with it too
    assert all(row[-1] == eos for row, owner in zip(chunks.ids, chunks.owner) if owner == 0)
    windows = encoder.embed_token_ids(chunks.ids, encoder.backend.default_ratio, normalize=True)
    first = chunks.owner.count(0)
    weights = torch.tensor(chunks.weight[:first], dtype=torch.float32).unsqueeze(1)
    expected = torch.nn.functional.normalize((windows[:first] * weights).sum(0), dim=0)
    np.testing.assert_allclose(vectors[0], expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(vectors[1], encoder.encode("short text"), atol=1e-5)  # one window: as it was


def test_windows_overlap_and_cover_the_whole_input():
    class Tokenizer:
        all_special_ids = (0, 9)

    row = [0, *range(100, 130), 9]  # 30 content tokens between a start and an end token
    chunks = split_chunks([row], Tokenizer(), size=12, overlap=3)
    contents = [window[1:-1] for window in chunks.ids]
    assert all(window[0] == 0 and window[-1] == 9 for window in chunks.ids)
    assert contents[0] == list(range(100, 110)) and contents[1][:3] == contents[0][-3:]
    assert sorted({t for c in contents for t in c}) == list(range(100, 130))
    combined = combine_chunks(torch.eye(len(contents)), Chunks(chunks.ids, chunks.owner, [1] * len(contents)), 1)
    torch.testing.assert_close(combined, torch.full((1, len(contents)), 1.0 / len(contents)))


def test_segments_are_long_windows_each_compressed_to_fit_and_averaged(encoder):
    texts = [*long_texts([5000], encoder), "short text"]
    options = {"long_inputs": "segments", "segment_length": 1024, "token_budget": 128, "max_length": 8000}
    vectors, details = encoder.encode(texts, chunk_overlap=0, return_details=True, **options)
    assert details[0].chunks == 5 and details[1].chunks == 1  # 5,000 tokens in segments of 1,024
    assert details[0].tokens_after_compression <= 5 * 128 and details[0].ratio < 0.13  # each fit to 128
    ids, _, _ = encoder.tokenize(texts, 8000)
    chunks = split_chunks(ids, encoder.tokenizer, 1024, 0)
    # the same segments, each at its own fitted ratio, embedded in one batch: the weighted mean of their vectors
    per_segment = encoder.encode(texts, chunk_overlap=0, return_segments=True, **options)
    assert [part.shape for part in per_segment] == [(5, 32), (1, 32)]
    np.testing.assert_allclose(np.linalg.norm(per_segment[0], axis=1), 1.0, atol=1e-5)
    weights = np.array(chunks.weight[:5], dtype=np.float32)[:, None]
    mean = (per_segment[0] * weights).sum(0) / weights.sum()
    np.testing.assert_allclose(vectors[0], mean / np.linalg.norm(mean), atol=1e-5)


def test_every_mode_gives_a_multi_vector_form(encoder):
    texts = [*long_texts([1000], encoder), "short text"]
    for mode, rows in (("truncate", 1), ("fit", 1), ("chunk", 5)):
        parts = encoder.encode(texts, long_inputs=mode, max_length=1000 if mode != "truncate" else None,
                               return_segments=True)  # fmt: skip
        assert parts[0].shape[0] >= rows and parts[1].shape == (1, 32), mode


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"long_inputs": "fit", "token_budget": 80},
            "token_budget must be an integer above the compression threshold of 80",
        ),
        ({"long_inputs": "fit", "token_budget": 300}, "token_budget=300 exceeds this model's window of 256 positions"),
        ({"long_inputs": "fit", "token_budget": 200, "max_length": 100}, "max_length=100 is below token_budget=200"),
        ({"token_budget": 200}, "token_budget goes with long_inputs='fit'"),
        ({"long_inputs": "chunk", "chunk_overlap": 200}, r"chunk_overlap must be in \[0, 128\), got 200"),
        ({"long_inputs": "window"}, "long_inputs must be one of truncate, fit, chunk, segments, got 'window'"),
        ({"long_inputs": "segments", "segment_length": 120}, "segment_length=120 is not above token_budget=128"),
        ({"segment_length": 2000}, "segment_length goes with long_inputs='segments'"),
        ({"max_length": 300}, "max_length=300 exceeds this model's limit of 256 positions"),
    ],
)
def test_bad_long_input_settings_name_the_value_and_the_limit(encoder, options, message):
    with pytest.raises(ValueError, match=message):
        encoder.encode(["a text"], **options)


def test_segments_default_to_two_windows_each_read_into_half_a_window(encoder):
    """The segments the long stage trains: 512 tokens into 128 positions for a 256-token window."""
    from jasper_tc.encode.long_inputs import plan_long_inputs
    from jasper_tc.encode.options import EncodeOptions

    plan = plan_long_inputs(EncodeOptions(long_inputs="segments"), encoder.backend)
    assert (plan.window, plan.budget) == (512, 128)
    assert plan_long_inputs(EncodeOptions(long_inputs="fit"), encoder.backend).budget == 256
    text = long_texts([1500], encoder)[0]
    _, details = encoder.encode([text], long_inputs="segments", max_length=4000, return_details=True)
    assert details[0].chunks >= 3 and details[0].tokens_after_compression <= 128 * details[0].chunks


def test_truncate_is_still_the_default(encoder):
    text = long_texts([600], encoder)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, details = encoder.encode([text], return_details=True)
    assert details[0].truncated and details[0].tokens_after_compression == compressed_length(256, details[0].ratio)
    assert any("cut to 256" in str(w.message) for w in caught)
    assert mixed_texts  # the shared helper still imports


def test_encode_writes_a_row_per_segment(tiny_qwen3_checkpoint, tmp_path):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from jasper_tc.cli import app

    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    texts = ["compression " * 6000, "a short text"]  # past the tiny model's window of 4,096
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(f'{{"id": "d{i}", "text": "{t}"}}\n' for i, t in enumerate(texts)))
    args = ["encode", "--model", tiny_qwen3_checkpoint, "--input", str(source), "--id-field", "id", "--device", "cpu"]
    args += ["--long-inputs", "chunk", "--max-length", "9000", "--segments"]
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "rows.parquet")])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "rows.parquet").to_pydict()
    expected = encoder.encode(texts, long_inputs="chunk", max_length=9000, return_segments=True)
    assert table["id"] == ["d0"] * len(expected[0]) + ["d1"] and len(expected[0]) > 1
    assert table["segment"] == [*range(len(expected[0])), 0]
    np.testing.assert_allclose(np.array(table["embedding"]), np.concatenate(expected), atol=1e-5)
    refused = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "rows.npy")])
    assert refused.exit_code == 2 and "one row per segment needs a .parquet output" in refused.output
