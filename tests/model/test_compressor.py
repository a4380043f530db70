"""The vectorised compressor against a sample-by-sample adaptive_avg_pool1d, and its contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jasper_tc import TokenCompressor, compress_tokens, compressed_length
from jasper_tc.model import compressed_lengths

from .reference import reference_compress

LENGTHS = [1, 79, 80, 81, 150, 400, 1030]
RATIOS = [0.01, 0.1, 0.2, 1 / 3, 0.3333, 0.5, 0.77, 1.0]


def padded_batch(lengths, dim=8, side="left", dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    hidden = torch.randn(len(lengths), longest, dim, generator=generator).to(dtype)
    mask = torch.zeros(len(lengths), longest, dtype=torch.long)
    for i, n in enumerate(lengths):
        if side == "left":
            mask[i, longest - n :] = 1
        else:
            mask[i, :n] = 1
    return hidden, mask


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("ratio", RATIOS)
def test_matches_adaptive_avg_pool_sample_by_sample(side, ratio):
    hidden, mask = padded_batch(LENGTHS, side=side)
    out, out_mask = compress_tokens(hidden, mask, ratio, padding_side=side)
    expected, expected_mask = reference_compress(hidden, mask, ratio, padding_side=side)
    if ratio == 1.0:  # nothing changes length: the inputs come back as they are
        assert out is hidden and out_mask is mask
        return
    assert out.shape == expected.shape
    torch.testing.assert_close(out_mask, expected_mask)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("ratio", [0.01, 0.1, 1 / 3, 0.77])
@pytest.mark.parametrize("ends", [1, 2])
def test_kept_ends_have_places_of_their_own(side, ratio, ends):
    hidden, mask = padded_batch(LENGTHS, side=side)
    out, out_mask = compress_tokens(hidden, mask, ratio, padding_side=side, keep_ends=ends)
    expected, expected_mask = reference_compress(hidden, mask, ratio, padding_side=side, keep_ends=ends)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(out_mask, expected_mask)
    plain, _ = compress_tokens(hidden, mask, ratio, padding_side=side)
    assert out.shape == plain.shape  # the same lengths as the release's pool


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("ratio", [0.01, 0.1, 1 / 3, 0.5, 0.77])
@pytest.mark.parametrize("ends", [0, 1, 39])
def test_disjoint_windows_hold_whole_tokens(side, ratio, ends):
    hidden, mask = padded_batch(LENGTHS, side=side)
    out, out_mask = compress_tokens(hidden, mask, ratio, padding_side=side, keep_ends=ends, disjoint=True)
    expected, expected_mask = reference_compress(hidden, mask, ratio, padding_side=side, keep_ends=ends, disjoint=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(out_mask, expected_mask)
    shared, _ = compress_tokens(hidden, mask, ratio, padding_side=side, keep_ends=ends)
    assert out.shape == shared.shape  # the same lengths as the release's windows
    assert not torch.allclose(out, shared)  # and other windows: none shares a token with its neighbour


def test_disjoint_windows_are_a_saved_choice(tiny_model, tmp_path):
    from jasper_tc import JasperTCModel
    from jasper_tc.model import configure_compression

    ids = torch.randint(0, 100, (2, 200))
    mask = torch.ones_like(ids)
    shared = tiny_model(input_ids=ids, attention_mask=mask, compression_ratio=0.5)
    configure_compression(tiny_model, windows="disjoint")
    disjoint = tiny_model(input_ids=ids, attention_mask=mask, compression_ratio=0.5)
    assert not torch.allclose(shared, disjoint)
    tiny_model.save_pretrained(tmp_path)
    loaded = JasperTCModel.from_pretrained(tmp_path).eval()
    assert loaded.config.compress_windows == "disjoint" and loaded.token_compressor.disjoint
    torch.testing.assert_close(loaded(input_ids=ids, attention_mask=mask, compression_ratio=0.5), disjoint)
    with pytest.raises(ValueError, match="compress_windows must be 'overlapping' or 'disjoint', got 'wide'"):
        configure_compression(tiny_model, windows="wide")


def test_input_padding_side_is_read_from_the_mask_not_guessed():
    # Right-padded input, left-padded output, and a row whose mask has a hole: all pooled by the mask.
    hidden, mask = padded_batch([300, 120, 90], side="right")
    mask[0, 10:20] = 0
    out, out_mask = compress_tokens(hidden, mask, 0.25, padding_side="left")
    expected, expected_mask = reference_compress(hidden, mask, 0.25, padding_side="left")
    torch.testing.assert_close(out_mask, expected_mask)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


def test_published_compressed_lengths():
    # The reference's table (its "1/3" is the recommended 0.3333).
    table = {1024: [552, 394, 268, 174], 2048: [1064, 735, 473, 276], 128: [104, 95, 89, 84], 81: [80] * 4}
    for n, expected in table.items():
        assert [compressed_length(n, r) for r in (0.5, 0.3333, 0.2, 0.1)] == expected
        lengths = torch.tensor([n])
        assert [int(compressed_lengths(lengths, r)[0]) for r in (0.5, 0.3333, 0.2, 0.1)] == expected


def test_vectorised_lengths_truncate_exactly_like_python_int():
    lengths = torch.arange(0, 5000)
    for ratio in (0.1, 0.2, 1 / 3, 0.3333, 0.37, 0.5, 0.9, 0.999):
        expected = [compressed_length(n, ratio) for n in range(5000)]
        assert compressed_lengths(lengths, ratio).tolist() == expected


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_is_kept_and_averaged_in_float32(dtype):
    hidden, mask = padded_batch([400, 150, 20], dtype=dtype)
    out, _ = compress_tokens(hidden, mask, 0.2)
    assert out.dtype == dtype
    expected, _ = reference_compress(hidden.float(), mask, 0.2)  # float32 averages of the same inputs
    torch.testing.assert_close(out, expected.to(dtype), atol=0, rtol=0)


def test_short_inputs_are_unchanged_bit_for_bit():
    hidden, mask = padded_batch([80, 40, 300])
    out, out_mask = compress_tokens(hidden, mask, 0.1)
    for i, n in [(0, 80), (1, 40)]:
        assert torch.equal(out[i][out_mask[i].bool()], hidden[i][mask[i].bool()])
        assert int(out_mask[i].sum()) == n


def test_differentiable_gradcheck():
    hidden, mask = padded_batch([130, 95, 12], dim=3)
    hidden = hidden.double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda h: compress_tokens(h, mask, 0.3)[0], (hidden,))


def test_gradients_per_token_equal_the_reference_pool():
    hidden, mask = padded_batch([100, 300, 50], dim=3)
    weights = torch.randn(3, compressed_length(300, 0.37), 3)
    ours = hidden.clone().requires_grad_(True)
    out, _ = compress_tokens(ours, mask, 0.37)
    (out * weights).sum().backward()
    theirs = hidden.clone().requires_grad_(True)
    expected, _ = reference_compress(theirs, mask, 0.37)
    (expected * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, atol=1e-6, rtol=1e-5)


def test_ratio_may_be_a_numpy_or_tensor_scalar():
    hidden, mask = padded_batch([200])
    reference = compress_tokens(hidden, mask, 0.5)[0]
    for ratio in (np.float32(0.5), np.float64(0.5), torch.tensor(0.5)):
        torch.testing.assert_close(compress_tokens(hidden, mask, ratio)[0], reference)
    with pytest.raises(ValueError, match="compression_ratio has 2 ratios for a batch of 1"):
        compress_tokens(hidden, mask, torch.tensor([0.5, 0.2]))


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), float("inf"), "0.5", True, None])
def test_bad_ratios_are_value_errors_naming_the_value(bad):
    hidden, mask = padded_batch([100])
    with pytest.raises(ValueError, match="compression_ratio"):
        compress_tokens(hidden, mask, bad)
    if bad is not None:
        with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(").replace(")", r"\)")):
            TokenCompressor(compression_ratio=bad)


def test_ratio_of_one_call_does_not_stick():
    compressor = TokenCompressor(compression_ratio=0.5)
    hidden, mask = padded_batch([400])
    _, small = compressor(hidden, mask, compression_ratio=0.1)
    _, default = compressor(hidden, mask)
    assert int(small.sum()) == compressed_length(400, 0.1)
    assert int(default.sum()) == compressed_length(400, 0.5)
    assert compressor.compression_ratio == 0.5


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        compress_tokens(torch.zeros(2, 4, 3), torch.ones(2, 5), 0.5)
    with pytest.raises(ValueError, match="padding_side"):
        compress_tokens(torch.zeros(1, 100, 3), torch.ones(1, 100), 0.5, padding_side="middle")
    with pytest.raises(ValueError, match="length_threshold"):
        TokenCompressor(length_threshold=-1)
    with pytest.raises(ValueError, match="length_threshold must be a non-negative integer, got -9"):
        compress_tokens(torch.zeros(1, 100, 3), torch.ones(1, 100), 0.5, length_threshold=-9)


def test_module_has_no_parameters_or_state():
    compressor = TokenCompressor()
    assert list(compressor.parameters()) == [] and compressor.state_dict() == {}


def test_one_ratio_per_sample_is_each_sample_at_its_own_ratio():
    """Per-sample ratios in one batch give what each sample gives alone at its ratio (the same formula)."""
    hidden, mask = padded_batch([300, 90, 1000, 120], side="right")
    ratios = [0.5, 0.1, 0.2, 1.0]
    pooled, out_mask = compress_tokens(hidden, mask, ratios, padding_side="right")
    for i, ratio in enumerate(ratios):
        alone, alone_mask = compress_tokens(hidden[i : i + 1], mask[i : i + 1], ratio, padding_side="right")
        n = int(alone_mask.sum())
        assert int(out_mask[i].sum()) == n == compressed_length(int(mask[i].sum()), ratio)
        torch.testing.assert_close(pooled[i, :n], alone[0, :n])
    with pytest.raises(ValueError, match=r"compression_ratio\[2\] must be in \(0, 1\], got 0.0"):
        compress_tokens(hidden, mask, [0.5, 0.5, 0.0, 1.0])


@pytest.mark.parametrize("n", [81, 100, 513, 2048, 10_000, 32_768])
@pytest.mark.parametrize("budget", [81, 256, 512])
def test_fit_ratio_is_the_largest_ratio_that_fits_the_budget(n, budget):
    from jasper_tc.model import fit_ratio

    ratio = fit_ratio(n, budget)
    assert compressed_length(n, ratio) == min(n, budget)
    if n > budget:  # a hair more would not fit
        assert compressed_length(n, min(1.0, ratio + 0.6 / (n - 80))) > budget


def test_a_budget_at_or_below_the_threshold_is_an_error():
    from jasper_tc.model import fit_ratio

    with pytest.raises(ValueError, match="a token budget must exceed the threshold of 80 tokens, got 80"):
        fit_ratio(1000, 80)
