"""Windows chosen by the text (``compress_pool: merge``): groups of neighbours, each sample at its compressed
length, kept ends whole, the most alike neighbours merged first, and each group pooled to its mean."""

from __future__ import annotations

import pytest
import torch

from jasper_tc.model.compressor import TokenCompressor, compressed_lengths
from jasper_tc.model.merging import merge_groups, pool_groups


def _batch(lengths: list[int], width: int = 300, dim: int = 8, side: str = "right", seed: int = 0):
    torch.manual_seed(seed)
    hidden = torch.randn(len(lengths), width, dim)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1 if side == "right" else 0
        if side == "left":
            mask[i, width - n :] = 1
    return hidden, mask


@pytest.mark.parametrize("keep_ends", [0, 1, 39])
@pytest.mark.parametrize("ratio", [0.9, 0.5, 0.33, 0.1, 0.01])
def test_groups_are_runs_of_neighbours_that_reach_each_target(keep_ends, ratio):
    hidden, mask = _batch([300, 257, 120, 81, 80, 12])
    lengths = mask.sum(1)
    targets = compressed_lengths(lengths, ratio)
    groups = merge_groups(hidden, mask, targets, keep_ends)
    for b, n in enumerate(lengths.tolist()):
        g = groups[b, :n]
        assert (groups[b, n:] == -1).all()
        assert g[0] == 0 and int(g[-1]) + 1 == int(targets[b])  # exactly the target, numbered in order
        assert ((g[1:] - g[:-1]) >= 0).all() and ((g[1:] - g[:-1]) <= 1).all()  # runs of neighbours
        if targets[b] < n and keep_ends:
            ends = min(keep_ends, (int(targets[b]) - 1) // 2)
            assert g[:ends].tolist() == list(range(ends))  # each kept end a group of its own
            assert g[n - ends :].tolist() == list(range(int(targets[b]) - ends, int(targets[b])))


def test_the_most_alike_neighbours_merge_first():
    torch.manual_seed(0)
    hidden = torch.nn.functional.normalize(torch.randn(1, 100, 64), dim=-1)
    hidden[0, 41] = hidden[0, 40]  # two tokens that say the same
    hidden[0, 70] = hidden[0, 71] * 2
    mask = torch.ones(1, 100, dtype=torch.long)
    groups = merge_groups(hidden, mask, torch.tensor([98]), keep_ends=1)
    assert groups[0, 40] == groups[0, 41] and groups[0, 70] == groups[0, 71]
    assert len(set(groups[0].tolist())) == 98


@pytest.mark.parametrize("side", ["left", "right"])
def test_each_group_pools_to_the_mean_of_its_tokens_on_either_side(side):
    hidden, mask = _batch([300, 200, 50], side=side)
    compressor = TokenCompressor(compression_ratio=0.4, padding_side=side, keep_ends=2, merge=True)
    groups = compressor.groups(hidden, mask)
    pooled, pooled_mask = compressor(hidden, mask, groups=groups)
    targets = compressed_lengths(mask.sum(1), 0.4)
    assert pooled_mask.sum(1).tolist() == targets.tolist()
    for b in range(3):
        valid = mask[b].bool()
        tokens, g = hidden[b][valid], groups[b][valid]
        expected = torch.stack([tokens[g == j].mean(0) for j in range(int(targets[b]))])
        kept = pooled[b][pooled_mask[b].bool()]
        assert torch.allclose(kept, expected, atol=1e-6)
        at_end = pooled_mask[b, -1] == 1 if side == "left" else pooled_mask[b, 0] == 1
        assert at_end  # padded on the compressor's side
        assert (pooled[b][~pooled_mask[b].bool()] == 0).all()


def test_a_sample_pools_the_same_alone_as_in_any_batch():
    hidden, mask = _batch([300, 150, 90], side="left")
    compressor = TokenCompressor(compression_ratio=0.25, padding_side="left", keep_ends=1, merge=True)
    together, _ = compressor(hidden, mask)
    for b in range(3):
        alone, alone_mask = compressor(hidden[b : b + 1], mask[b : b + 1])
        n = int(alone_mask.sum())
        assert torch.allclose(together[b, -n:], alone[0, -n:], atol=1e-6)


def test_per_sample_ratios_and_inputs_left_whole():
    hidden, mask = _batch([300, 300, 60])
    compressor = TokenCompressor(merge=True)
    pooled, pooled_mask = compressor(hidden, mask, torch.tensor([0.5, 1.0, 0.1]))
    assert pooled_mask.sum(1).tolist() == [190, 300, 60]
    assert torch.equal(pooled[1, :300], hidden[1, :300])  # ratio 1 keeps every token as it is
    short, short_mask = _batch([70, 20])
    out, out_mask = compressor(short, short_mask, 0.1)
    assert out is short and out_mask is short_mask  # under the threshold nothing changes


def test_groups_of_another_shape_are_named():
    hidden, mask = _batch([300])
    with pytest.raises(ValueError, match="groups and attention_mask must have one shape"):
        TokenCompressor(merge=True)(hidden, mask, 0.5, groups=torch.zeros(1, 5, dtype=torch.long))


def test_pool_groups_keeps_gradients_and_half_precision():
    hidden, mask = _batch([200])
    hidden = hidden.bfloat16().requires_grad_()
    groups = merge_groups(hidden, mask, torch.tensor([100]))
    pooled, _ = pool_groups(hidden, mask, groups, "right")
    assert pooled.dtype == torch.bfloat16
    pooled.float().sum().backward()
    assert hidden.grad is not None and hidden.grad[0, :200].abs().sum() > 0
