"""Seeing the global batch: an all-gather that keeps gradients, and the row offset of this rank."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather", "rank_and_world"]


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, in rank order; gradients flow back to each rank.

    Every rank must pass the same shape. In one process it returns ``tensor`` itself.
    """
    _, world = rank_and_world()
    if world == 1:
        return tensor
    if tensor.requires_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor), dim=0)
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor)
    return torch.cat(parts, dim=0)
