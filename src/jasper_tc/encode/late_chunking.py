"""Late chunking: a vector per window of a long input's text, each pooled from one forward over the whole
(compressed) input or segment, rather than a forward per window.

Each pooled token counts for the window its tokens came from (the mean place of its pool window), so the
windows are the ones ``chunk`` would embed alone, read with the context of the whole segment at a fraction of
the positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .encoder import Encoder

__all__ = ["window_vectors"]


def window_vectors(
    encoder: Encoder,
    token_ids: list[list[int]],
    compression_ratio: float | list[float],
    span: int,
    *,
    batch_size: int = 32,
    max_tokens_per_batch: int | None = None,
    show_progress_bar: bool | None = False,
) -> list[tuple[Tensor, list[int]]]:
    """Late chunking: per input, the un-normalised ``(k, D)`` vectors of its stretches of ``span`` tokens
    (those the pool left a position of their own), from one forward each, and each stretch's tokens."""
    spans: list = [None] * len(token_ids)
    for batch, ratio in encoder.batches(token_ids, compression_ratio, batch_size, max_tokens_per_batch,
                                        show_progress_bar):  # fmt: skip
        with torch.inference_mode():
            means, counts = encoder.backend.embed_spans(*encoder.padded([token_ids[i] for i in batch], ratio), span)
        means, counts = means.float().cpu(), counts.cpu()
        if not torch.isfinite(means).all():
            raise FloatingPointError(f"the model produced non-finite embeddings for texts{batch[:5]}", batch)
        for row, index in enumerate(batch):
            kept = torch.nonzero(counts[row] > 0).flatten().tolist()
            tokens = len(token_ids[index])
            spans[index] = (means[row][kept], [min(span, tokens - k * span) for k in kept])
    return spans
