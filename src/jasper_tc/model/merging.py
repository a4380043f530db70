"""Windows chosen by the text (``compress_pool: merge``): neighbouring tokens that say the same thing merge first.

Fixed windows average every run of n/t tokens alike: a name's rare word pieces as readily as the stop words
around them. Here each sample's windows follow its text. In each pass every other token may join its more
similar neighbour (cosine of the states being pooled), the most similar pairs join first, until the sample has
its compressed length: token merging (ToMe, Bolya et al., ICLR 2023) along the sequence, so that a window is
always a run of neighbouring tokens. The outcome is a group per token; the pool is each group's mean, as the
fixed windows' pool is each window's mean. Kept ends stay tokens of their own and take no neighbour in.

Training-free, on all-MiniLM-L6-v2 at 256 tokens with 39 tokens kept at each end, it kept 99.0% of ratio 1's
nDCG@10 on Wiki-title2article-en at ratio 0.5 where disjoint windows kept 97.5% (docs/compression-frontier.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["merge_groups", "pool_groups"]


def _merge_pass(x: Tensor, count: Tensor, ends: Tensor, remove: Tensor, parity: int) -> tuple[Tensor, Tensor]:
    """One pass over left-aligned groups ``x`` (each its tokens' sum, so that a cosine is its mean's): the
    ``(B, L)`` slot each group moves to, and how many merged per sample.

    Groups at positions of one parity may join their more similar neighbour; per sample, the ``remove`` most
    similar do. Kept ends (the first and last ``ends`` groups) neither join nor take one in.
    """
    batch, length, _ = x.shape
    idx = torch.arange(length, device=x.device).unsqueeze(0)  # (1, L)
    valid = idx < count.unsqueeze(1)
    free = valid & (idx >= ends) & (idx < (count.unsqueeze(1) - ends))  # (B, L)
    norms = torch.linalg.vector_norm(x, dim=-1).clamp(min=1e-12)  # (B, L)
    similar = torch.linalg.vecdot(x[:, :-1], x[:, 1:]) / (norms[:, :-1] * norms[:, 1:])  # (B, L-1): i with i + 1
    none = torch.full((batch, 1), -torch.inf, device=x.device)
    similar = torch.where(free[:, :-1] & free[:, 1:], similar, -torch.inf)
    right, left = torch.cat([similar, none], 1), torch.cat([none, similar], 1)  # (B, L)
    joins_right = right >= left
    score = torch.where((idx % 2 == parity) & free, torch.maximum(left, right), -torch.inf)
    rank = score.argsort(dim=1, descending=True).argsort(dim=1)  # (B, L) 0 = the most similar pair
    merged = (rank < remove.unsqueeze(1)) & torch.isfinite(score)
    stays = valid & ~merged
    slot = stays.long().cumsum(1) - 1
    neighbour = torch.where(joins_right, idx + 1, idx - 1).clamp(0, length - 1).expand(batch, -1)
    slot = torch.where(merged, slot.gather(1, neighbour), slot)  # a neighbour never merges in the same pass
    return torch.where(valid, slot, -1), merged.sum(1)


def _apply(slot: Tensor, x: Tensor, out_len: int) -> Tensor:
    """Groups moved to their slots: ``(B, out_len, D)`` sums of the groups that share a slot."""
    batch, length, dim = x.shape
    rows = torch.where(slot >= 0, slot + torch.arange(batch, device=x.device).unsqueeze(1) * out_len, batch * out_len)
    summed = x.new_zeros(batch * out_len + 1, dim).index_add(0, rows.view(-1), x.reshape(batch * length, dim))
    return summed[:-1].view(batch, out_len, dim)


@torch.no_grad()
def merge_groups(states: Tensor, attention_mask: Tensor, targets: Tensor, keep_ends: int = 0) -> Tensor:
    """The ``(B, L)`` group (0 .. targets[b] - 1, in order) of every valid token, -1 at padding.

    ``states`` ``(B, L, D)`` are what neighbours are compared by (a merged group by its mean); a sample whose
    target is its length keeps a group per token. Decisions carry no gradient: the pool over the groups does.
    """
    length, dim = states.shape[1:]
    valid = attention_mask.bool()
    lengths = valid.sum(1)
    positions = torch.arange(length, device=states.device).unsqueeze(0)
    if bool((valid == (positions < lengths.unsqueeze(1))).all()):  # valid tokens first already (right padding)
        order, x = positions.expand(valid.shape[0], -1), states.detach().float()
    else:
        order = (~valid).to(torch.uint8).argsort(dim=1, stable=True)  # valid tokens first, in order
        x = states.detach().float().gather(1, order.unsqueeze(-1).expand(-1, -1, dim))
    compressing = targets < lengths
    ends = torch.where(compressing, torch.clamp((targets - 1) // 2, max=keep_ends), 0).unsqueeze(1)  # (B, 1)
    assign = torch.where(positions < lengths.unsqueeze(1), positions, -1)  # (B, L) in the left-aligned order
    count, remove, parity = lengths.clone(), (lengths - targets).clamp(min=0), 0
    while int(remove.max()) > 0:
        slot, merged = _merge_pass(x, count, ends, remove, parity)
        if not int(merged.sum()):
            break  # nothing left to merge (the ends fill the target)
        count, remove, parity = count - merged, remove - merged, 1 - parity
        x = _apply(slot, x, int(count.max()))
        assign = torch.where(assign >= 0, slot.gather(1, assign.clamp(min=0)), -1)
    groups = torch.full_like(assign, -1)
    return groups.scatter(1, order, assign)  # back to where each token was


def pool_groups(
    hidden: Tensor, attention_mask: Tensor, groups: Tensor, padding_side: str = "left"
) -> tuple[Tensor, Tensor]:
    """Each group's mean: ``(B, T, D)`` in ``hidden``'s dtype (zeros at padding) and the ``(B, T)`` mask in the
    mask's dtype, ``T`` the most groups of a sample, padded on ``padding_side``."""
    batch, dim = hidden.shape[0], hidden.shape[-1]
    count = groups.max(dim=1).values + 1  # (B,)
    out_len = int(count.max())
    offset = (out_len - count).unsqueeze(1) if padding_side == "left" else torch.zeros_like(count).unsqueeze(1)
    base = torch.arange(batch, device=hidden.device).unsqueeze(1) * out_len + offset
    rows = torch.where(groups >= 0, base + groups, batch * out_len).view(-1)
    acc = torch.float32 if hidden.dtype in (torch.float16, torch.bfloat16) else hidden.dtype
    summed = hidden.new_zeros(batch * out_len + 1, dim, dtype=acc).index_add(0, rows, hidden.reshape(-1, dim).to(acc))
    sizes = hidden.new_zeros(batch * out_len + 1, dtype=acc).index_add(0, rows, (groups >= 0).view(-1).to(acc))
    sizes = sizes[:-1].view(batch, out_len)
    pooled = summed[:-1].view(batch, out_len, dim) / sizes.clamp(min=1).unsqueeze(-1)
    return pooled.to(hidden.dtype), (sizes > 0).to(attention_mask.dtype)
