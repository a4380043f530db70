"""Batch planning: longest first, each batch bounded by a count and by padded tokens.

Pure functions of token lengths, so the encoder, the teacher runner and the server share one rule.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plan_batches"]


def plan_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Group input indices into batches, longest inputs first.

    A batch holds at most ``batch_size`` inputs and, when ``max_tokens`` is set, at most that many
    padded tokens (``len(batch) * longest``); an input longer than ``max_tokens`` gets a batch of its own.
    Sorting by length keeps padding small; ties keep input order, so the plan is deterministic.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens_per_batch must be at least 1, got {max_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        fits_count = len(current) < batch_size
        fits_tokens = max_tokens is None or (len(current) + 1) * longest <= max_tokens
        if current and not (fits_count and fits_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
