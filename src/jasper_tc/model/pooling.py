"""Masked mean pooling, accumulated in float32 so bf16 models pool as precisely as fp32 ones; and its
late-chunking form, one mean per stretch of the input."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mean_pool", "source_positions", "span_means"]


def mean_pool(token_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of ``token_states`` ``(B, T, D)`` over positions where ``attention_mask`` ``(B, T)`` is set.

    Returns ``(B, D)`` float32; a row with no valid token pools to zeros.
    """
    mask = attention_mask.to(torch.float32).unsqueeze(-1)  # (B, T, 1)
    summed = (token_states.to(torch.float32) * mask).sum(dim=1)  # (B, D)
    return summed / mask.sum(dim=1).clamp(min=1.0)


def source_positions(attention_mask: Tensor) -> Tensor:
    """``(B, L)`` float32 position of each token counted from its sample's first valid token (either padding
    side): pooled by the token pool like the states, it gives each pooled token the mean place it came from."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0).to(torch.float32)


def span_means(token_states: Tensor, attention_mask: Tensor, where: Tensor, span: int) -> tuple[Tensor, Tensor]:
    """Late chunking: the mean of the last-layer states whose source position ``where`` ``(B, T)`` falls in
    each stretch of ``span`` input tokens: ``(B, S, D)`` float32 means and ``(B, S)`` counts of positions.

    A stretch no pooled token came from (a compressed input) counts 0 and pools to zeros; the count-weighted
    mean of the stretches is :func:`mean_pool` of the whole input.
    """
    valid = attention_mask.bool()
    index = torch.div(where.to(torch.float32), span, rounding_mode="floor").long().clamp(min=0)  # (B, T)
    index = index.masked_fill(~valid, 0)
    stretches = int(index.max()) + 1 if index.numel() else 1
    member = torch.nn.functional.one_hot(index, stretches).to(torch.float32) * valid.unsqueeze(-1)  # (B, T, S)
    summed = torch.einsum("bts,btd->bsd", member, token_states.to(torch.float32))
    counts = member.sum(dim=1)  # (B, S)
    return summed / counts.clamp(min=1.0).unsqueeze(-1), counts
