"""Masked mean pooling, accumulated in float32 so bf16 models pool as precisely as fp32 ones."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mean_pool"]


def mean_pool(token_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of ``token_states`` ``(B, T, D)`` over positions where ``attention_mask`` ``(B, T)`` is set.

    Returns ``(B, D)`` float32; a row with no valid token pools to zeros.
    """
    mask = attention_mask.to(torch.float32).unsqueeze(-1)  # (B, T, 1)
    summed = (token_states.to(torch.float32) * mask).sum(dim=1)  # (B, D)
    return summed / mask.sum(dim=1).clamp(min=1.0)
