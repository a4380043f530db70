"""Inputs longer than the model's window: cut them (``truncate``), compress each to fit a token budget
(``fit``), or embed overlapping windows and average them (``chunk``).

``fit`` is what token compression makes possible: the pool runs before any position is used, so a
10,000-token document at ratio 0.05 is 580 positions. Each input gets the largest ratio that brings it
within the budget (the pool takes one ratio per sample, so one batch mixes them). ``chunk`` is the
baseline users run today: windows of the model's length with some overlap, each embedded, combined by
a mean weighted by each window's own tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from ..model import compressed_length, fit_ratio
from .options import EncodeOptions

if TYPE_CHECKING:
    from .backends import Backend

__all__ = [
    "DEFAULT_LONG_CAP",
    "Chunks",
    "LongInputPlan",
    "combine_chunks",
    "fit_ratios",
    "plan_long_inputs",
    "split_chunks",
    "tokens_after",
]

# How much of a long input ``fit`` and ``chunk`` read when the caller names no ``max_length``.
DEFAULT_LONG_CAP = 32_768


def fit_ratios(lengths: list[int], budget: int, ratio: float, threshold: int) -> list[float]:
    """Per input: ``ratio``, lowered to the largest ratio whose compressed length fits ``budget``."""
    return [min(ratio, fit_ratio(n, budget, threshold)) for n in lengths]


def tokens_after(lengths: list[int], ratios: list[float], threshold: int) -> list[int]:
    """Per input: the positions the layers see after compression."""
    return [compressed_length(n, r, threshold) for n, r in zip(lengths, ratios)]


@dataclass(frozen=True)
class LongInputPlan:
    """How one call reads its inputs, with every value checked against the model."""

    mode: str  # truncate, fit, chunk or segments
    cap: int  # tokens read per input (may pass the window for fit, chunk and segments)
    ratio: float  # the call's ratio (fit and segments lower it per input to meet the budget)
    budget: int | None  # fit: positions per input after compression; segments: per segment
    window: int  # chunk: tokens per window; segments: tokens per segment
    overlap: int  # chunk and segments: tokens shared by neighbouring windows
    threshold: int  # the model's compression threshold

    def ratios(self, lengths: list[int]) -> list[float]:
        """The ratio each input of these token lengths runs at."""
        if self.mode == "fit":
            return fit_ratios(lengths, self.budget, self.ratio, self.threshold)
        return [self.ratio] * len(lengths)


def _limit_problem(key: str, value: int, limit: int | None, what: str) -> str | None:
    if limit is not None and value > limit:
        return f"{key}={value} exceeds this model's {what} of {limit} positions"
    return None


def _problem(
    options: EncodeOptions, mode: str, cap: int, window: int, budget: int | None, backend: Backend
) -> str | None:
    """The first setting that does not fit the model, in words naming it and its limit."""
    limit, threshold = backend.position_limit, backend.length_threshold
    if mode == "truncate":
        return _limit_problem("max_length", cap, limit, "limit")
    if mode in ("chunk", "segments") and not options.chunk_overlap < window // 2:
        return f"chunk_overlap must be in [0, {window // 2}), got {options.chunk_overlap}"
    if budget is None:
        return None
    if budget <= threshold:
        return f"token_budget must be an integer above the compression threshold of {threshold}, got {budget}"
    if too_wide := _limit_problem("token_budget", budget, limit, "window"):
        return too_wide
    if mode == "fit" and cap < budget:
        return f"max_length={cap} is below token_budget={budget}: nothing would need compressing"
    if mode == "segments" and window <= budget:
        return f"segment_length={window} is not above token_budget={budget}: use long_inputs='chunk'"
    return None


def _default_budget(mode: str, model_window: int, threshold: int) -> int | None:
    """Positions per forward: the window under "fit"; half of it per segment under "segments", the segments the
    long stage of ``adapt --long-documents`` trains (docs/long-documents.md: two windows read at a quarter of
    their tokens come within a point of chunk-and-mean at a quarter of its time)."""
    if mode == "segments" and model_window // 2 > threshold:
        return model_window // 2
    return model_window if mode in ("fit", "segments") else None


def plan_long_inputs(options: EncodeOptions, backend: Backend) -> LongInputPlan:
    """``options`` checked against the model; every bad value is an error naming it and its limit."""
    mode, model_window = options.long_inputs, backend.max_length
    cap = options.max_length or (model_window if mode == "truncate" else DEFAULT_LONG_CAP)
    window = (options.segment_length or 2 * model_window) if mode == "segments" else model_window
    budget = options.token_budget or _default_budget(mode, model_window, backend.length_threshold)
    problem = _problem(options, mode, cap, window, budget, backend)
    if problem:
        raise ValueError(problem)
    default = 1.0 if mode in ("fit", "segments") else backend.default_ratio
    ratio = default if options.compression_ratio is None else options.compression_ratio
    return LongInputPlan(mode, cap, ratio, budget, window, options.chunk_overlap, backend.length_threshold)


@dataclass(frozen=True)
class Chunks:
    ids: list[list[int]]  # every window, special tokens added as the tokenizer adds them
    owner: list[int]  # the input each window belongs to
    weight: list[int]  # the window's own (content) tokens, for the weighted mean


def _content(row: list[int], tokenizer) -> tuple[list[int], int, int]:
    """A tokenised input without the special tokens the tokenizer added at its ends."""
    specials = set(tokenizer.all_special_ids)
    start, end = 0, len(row)
    while start < end and row[start] in specials:
        start += 1
    while end > start and row[end - 1] in specials:
        end -= 1
    return row[start:end], start, len(row) - end


def split_chunks(token_ids: list[list[int]], tokenizer, size: int, overlap: int) -> Chunks:
    """Each input as windows of at most ``size`` tokens (specials included) overlapping by ``overlap``.

    An input that fits is one window, unchanged; every window keeps the special tokens the tokenizer put
    at the input's two ends, so each is what the model would see for that stretch of text alone.
    """
    ids, owner, weight = [], [], []
    for index, row in enumerate(token_ids):
        if len(row) <= size:
            ids.append(row)
            owner.append(index)
            weight.append(len(row))
            continue
        content, head, tail = _content(row, tokenizer)
        prefix, suffix = row[:head], row[len(row) - tail :]
        width = size - head - tail
        if width <= overlap:
            raise ValueError(f"chunk_overlap={overlap} leaves no room in windows of {size} tokens")
        step = width - overlap
        for start in range(0, max(1, len(content) - overlap), step):
            piece = content[start : start + width]
            ids.append(prefix + piece + suffix)
            owner.append(index)
            weight.append(len(piece))
    return Chunks(ids, owner, weight)


def combine_chunks(vectors: Tensor, chunks: Chunks, count: int) -> Tensor:
    """The token-weighted mean of each input's (normalised) window vectors: ``(count, D)``."""
    owner = torch.tensor(chunks.owner)
    weight = torch.tensor(chunks.weight, dtype=vectors.dtype).unsqueeze(1)
    summed = torch.zeros(count, vectors.shape[1], dtype=vectors.dtype).index_add(
        0, owner, F.normalize(vectors, dim=-1) * weight
    )
    return summed / torch.zeros(count, 1, dtype=vectors.dtype).index_add(0, owner, weight)
