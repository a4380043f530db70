"""The token compressor: a parameter-free adaptive average pool over each sample's valid tokens.

A sample with ``n`` valid tokens keeps them all when ``n <= length_threshold``; otherwise it is
shortened to ``t = int(threshold + (n - threshold) * ratio)`` tokens, output token ``j`` being the
mean of input tokens ``[floor(j*n/t), ceil((j+1)*n/t))`` -- the bins of ``F.adaptive_avg_pool1d``,
so neighbouring bins may share a token. For one sample it is this plain loop, which
:func:`compress_tokens` equals (the tests check it against such a loop)::

    n = int(mask.sum())                              # valid tokens of the sample
    t = n if n <= threshold else int(threshold + (n - threshold) * ratio)
    valid = hidden[mask.bool()]                      # (n, D)
    pooled = F.adaptive_avg_pool1d(valid.T[None], t)[0].T    # (t, D): bin j = mean of its tokens
    mask_out = torch.ones(t)                         # then re-padded on the model's padding side

The whole batch is pooled at once by two ``index_add`` passes (every token falls in one bin, or two
where neighbouring bins share it), driven by the attention mask alone: valid tokens are counted
wherever the mask says they are (left, right or mixed padding), never guessed from where the mask
starts. The only host read is one per batch: the output length.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal

import torch
from torch import Tensor, nn

from .merging import merge_groups, pool_groups

PaddingSide = Literal["left", "right"]

# Inputs with at most this many valid tokens are never compressed (the release's threshold).
LENGTH_THRESHOLD = 80

__all__ = [
    "LENGTH_THRESHOLD",
    "PaddingSide",
    "TokenCompressor",
    "check_ratio",
    "check_ratios",
    "check_threshold",
    "compress_tokens",
    "compressed_length",
    "compressed_lengths",
    "fit_ratio",
]


def check_ratio(ratio: object, name: str = "compression_ratio") -> float:
    """Return ``ratio`` as a float, or raise a ``ValueError`` naming it if it is not in (0, 1]."""
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real | Tensor) or getattr(ratio, "ndim", 0):
        raise ValueError(f"{name} must be a number in (0, 1], got {ratio!r} ({type(ratio).__name__})")
    value = float(ratio)
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {ratio!r}")
    return value


def check_ratios(ratio: object, batch: int, name: str = "compression_ratio") -> float | Tensor:
    """One ratio for a whole batch (a float), or one per sample: a sequence or 1-D tensor of ``batch``
    ratios, returned as a float64 tensor; anything outside (0, 1] is a ``ValueError`` naming it."""
    if isinstance(ratio, numbers.Real) or (isinstance(ratio, Tensor) and ratio.ndim == 0):
        return check_ratio(ratio, name)
    if isinstance(ratio, (str, bytes)) or not isinstance(ratio, Tensor | list | tuple):
        raise ValueError(f"{name} must be a number or one number per sample, got {type(ratio).__name__}")
    values = torch.as_tensor(ratio, dtype=torch.float64).flatten()
    if values.numel() != batch:
        raise ValueError(f"{name} has {values.numel()} ratios for a batch of {batch}")
    bad = torch.nonzero(torch.isnan(values) | (values <= 0) | (values > 1)).flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] must be in (0, 1], got {float(values[i])}")
    return values


def check_threshold(threshold: object, name: str = "length_threshold") -> int:
    """Return ``threshold``, or raise a ``ValueError`` naming it if it is not a non-negative integer."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {threshold!r}")
    return threshold


def check_padding_side(side: object) -> PaddingSide:
    if side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
    return side


def compressed_length(n: int, ratio: float, length_threshold: int = LENGTH_THRESHOLD) -> int:
    """The number of tokens an input of ``n`` valid tokens keeps (the release's formula)."""
    if n <= length_threshold:
        return n
    return int(length_threshold + (n - length_threshold) * ratio)


def fit_ratio(n: int, budget: int, length_threshold: int = LENGTH_THRESHOLD) -> float:
    """The largest ratio that brings an input of ``n`` tokens within ``budget`` tokens (1.0 if it fits).

    The half token keeps the float arithmetic of :func:`compressed_length` on the right side of ``int()``:
    it gives exactly ``budget`` tokens for any ``n > budget``.
    """
    if budget <= length_threshold:
        raise ValueError(f"a token budget must exceed the threshold of {length_threshold} tokens, got {budget}")
    if n <= budget:
        return 1.0
    return (budget - length_threshold + 0.5) / (n - length_threshold)


def compressed_lengths(lengths: Tensor, ratio: float | Tensor, length_threshold: int = LENGTH_THRESHOLD) -> Tensor:
    """Vectorised :func:`compressed_length` (one ratio, or one per sample); float64 keeps ``int()``
    truncation identical to Python's."""
    if isinstance(ratio, Tensor):
        ratio = ratio.to(device=lengths.device, dtype=torch.float64)
    target = torch.floor(length_threshold + (lengths.to(torch.float64) - length_threshold) * ratio)
    return torch.where(lengths > length_threshold, target.to(lengths.dtype), lengths)


def _checked(
    hidden_states: Tensor, attention_mask: Tensor, ratio: float | Tensor, length_threshold: int, padding_side: str
) -> float | Tensor:
    """``compress_tokens``' arguments checked (each error names the argument); the ratio as one or per sample."""
    if hidden_states.dim() != 3 or attention_mask.shape != hidden_states.shape[:2]:
        raise ValueError(
            "compress_tokens expects hidden_states (batch, length, dim) and attention_mask (batch, length); "
            f"got {tuple(hidden_states.shape)} and {tuple(attention_mask.shape)}"
        )
    check_threshold(length_threshold)
    check_padding_side(padding_side)
    return check_ratios(ratio, hidden_states.shape[0])


def _bins(valid: Tensor, lengths: Tensor, targets: Tensor, keep_ends: int, disjoint: bool) -> tuple[Tensor, ...]:
    """Which bins each valid token goes to: ``(ends, n, t, first_bin, last_bin)``.

    Each valid token (rank r among its sample's n) lies in bins floor(r*t/n) .. ceil((r+1)*t/n) - 1: one bin,
    or two where neighbouring bins share it (never more, since t <= n). ``disjoint``: in bin floor(r*t/n) alone,
    so that bins hold floor(n/t) or ceil(n/t) whole tokens. With kept ends, the first and last e tokens of a
    compressed sample each have a bin, and the n - 2e between share the t - 2e bins between.
    """
    ends = torch.where(targets < lengths, keep_ends, 0).unsqueeze(1)  # (B, 1) e per sample
    n = (lengths.unsqueeze(1) - 2 * ends).clamp(min=1)  # (B, 1) tokens between the ends
    t = (targets.unsqueeze(1) - 2 * ends).clamp(min=1)  # (B, 1) bins between the ends
    rank = (valid.long().cumsum(dim=1) - 1).clamp(min=0)  # (B, L)
    middle = rank - ends  # (B, L) rank among the tokens between the ends
    first_bin = ends + (middle * t) // n  # (B, L)
    last_bin = first_bin if disjoint else ends + ((middle + 1) * t + n - 1) // n - 1  # first_bin (+ 1)
    if keep_ends:
        head, tail = middle < 0, middle >= n
        first_bin = torch.where(head, rank, torch.where(tail, rank - n + t, first_bin))
        last_bin = torch.where(head | tail, first_bin, last_bin)
    return ends, n, t, first_bin, last_bin


def _bin_sizes(place: Tensor, ends: Tensor, n: Tensor, t: Tensor, targets: Tensor, disjoint: bool) -> Tensor:
    """How many tokens each output place averages (1 at kept ends, at least 1 at padding)."""
    j = (place - ends).clamp(min=0)  # bin index among the bins between the ends (an end's bin: one token)
    # bin j spans ranks floor(j*n/t) .. ceil((j+1)*n/t) - 1; disjoint, the ranks r with j <= r*t/n < j + 1
    first = (j * n + t - 1) // t if disjoint else (j * n) // t
    counts = (((j + 1) * n + t - 1) // t - first).clamp(min=1)
    return torch.where((place < ends) | (place >= targets.unsqueeze(1) - ends), 1, counts)


def compress_tokens(
    hidden_states: Tensor,
    attention_mask: Tensor,
    ratio: float | Tensor,
    length_threshold: int = LENGTH_THRESHOLD,
    padding_side: PaddingSide = "left",
    keep_ends: int = 0,
    disjoint: bool = False,
) -> tuple[Tensor, Tensor]:
    """Pool every sample's valid tokens to its compressed length.

    Args:
        hidden_states: ``(B, L, D)`` token vectors.
        attention_mask: ``(B, L)``, non-zero where a token is valid.
        ratio: in (0, 1]; 1.0 keeps every token. One per sample (a sequence or 1-D tensor) is the
            same formula per sample: each keeps ``int(threshold + (n - threshold) * ratio_i)`` tokens.
        length_threshold: samples with at most this many valid tokens are kept as they are.
        padding_side: where the output puts its padding.
        keep_ends: this many tokens at each end of a compressed sample (a tokenizer's [CLS] and [SEP])
            keep a place of their own; the tokens between them share the other places. 0: the release's pool.
        disjoint: each token in one window only (windows of whole tokens, none shared with a neighbour); the
            release's windows, like an adaptive average pool's, share a token where they meet.

    Returns:
        ``(B, T, D)`` pooled vectors (zeros at padding) in the input dtype, and the ``(B, T)`` mask in
        the mask's dtype, ``T`` being the longest compressed sample. When no sample changes length,
        the inputs are returned unchanged.
    """
    ratio = _checked(hidden_states, attention_mask, ratio, length_threshold, padding_side)
    batch, length, dim = hidden_states.shape
    if batch == 0 or length == 0:
        return hidden_states, attention_mask

    valid = attention_mask.bool()  # (B, L)
    lengths = valid.sum(dim=1)  # (B,)
    targets = compressed_lengths(lengths, ratio, length_threshold)  # (B,)
    out_len, changed = torch.stack([targets.max(), (targets != lengths).any()]).tolist()  # the one host read
    if not changed:
        return hidden_states, attention_mask

    ends, n, t, first_bin, last_bin = _bins(valid, lengths, targets, keep_ends, disjoint)
    offset = (out_len - targets).unsqueeze(1) if padding_side == "left" else torch.zeros_like(n)  # (B, 1)
    row_start = torch.arange(batch, device=hidden_states.device).unsqueeze(1) * out_len + offset  # (B, 1)
    discard = batch * out_len  # padding and "no second bin" go to one spare row
    into_first = torch.where(valid, row_start + first_bin, discard).view(-1)  # (B*L,)
    into_second = torch.where(valid & (last_bin > first_bin), row_start + last_bin, discard).view(-1)

    acc_dtype = torch.float32 if hidden_states.dtype in (torch.float16, torch.bfloat16) else hidden_states.dtype
    source = hidden_states.reshape(batch * length, dim).to(acc_dtype)  # (B*L, D)
    summed = hidden_states.new_zeros(batch * out_len + 1, dim, dtype=acc_dtype)
    summed = summed.index_add(0, into_first, source).index_add(0, into_second, source)[:-1]  # (B*T, D)

    place = torch.arange(out_len, device=hidden_states.device).unsqueeze(0) - offset  # (B, T) bin index
    out_valid = (place >= 0) & (place < targets.unsqueeze(1))  # (B, T)
    counts = _bin_sizes(place, ends, n, t, targets, disjoint)  # (B, T)
    pooled = summed.view(batch, out_len, dim) / counts.unsqueeze(-1).to(acc_dtype)  # zeros at padding
    return pooled.to(hidden_states.dtype), out_valid.to(attention_mask.dtype)


class TokenCompressor(nn.Module):
    """Parameter-free module around :func:`compress_tokens` holding the default ratio and threshold.

    The ratio passed to one call applies to that call only; the default never changes.
    """

    def __init__(
        self,
        length_threshold: int = LENGTH_THRESHOLD,
        compression_ratio: float = 0.5,
        padding_side: PaddingSide = "left",
        keep_ends: int = 0,
        disjoint: bool = False,
        merge: bool = False,
    ) -> None:
        super().__init__()
        self.keep_ends = keep_ends
        self.disjoint = disjoint
        self.merge = merge  # windows chosen by the text (merging.py), not by position
        self.length_threshold = check_threshold(length_threshold)
        self.compression_ratio = check_ratio(compression_ratio)
        self.padding_side: PaddingSide = check_padding_side(padding_side)

    def output_length(self, n: int, compression_ratio: float | None = None) -> int:
        """How many tokens an input of ``n`` valid tokens becomes."""
        ratio = self.compression_ratio if compression_ratio is None else check_ratio(compression_ratio)
        return compressed_length(n, ratio, self.length_threshold)

    def groups(self, states: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor | None = None):
        """The ``(B, L)`` group of each token when windows are chosen by the text (``merge``), from ``states``;
        None for fixed windows. Passed to :meth:`forward`, it pools other states by the same windows."""
        if not self.merge:
            return None
        ratio = self.compression_ratio if compression_ratio is None else compression_ratio
        ratio = _checked(states, attention_mask, ratio, self.length_threshold, self.padding_side)
        targets = compressed_lengths(attention_mask.bool().sum(dim=1), ratio, self.length_threshold)
        return merge_groups(states, attention_mask, targets, self.keep_ends)

    def forward(
        self,
        hidden_states: Tensor,
        attention_mask: Tensor,
        compression_ratio: float | Tensor | None = None,
        groups: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Pooled ``(B, T, D)`` states and their ``(B, T)`` mask; ``groups`` (from :meth:`groups`): pooled by
        those windows instead of windows chosen from ``hidden_states``."""
        ratio = self.compression_ratio if compression_ratio is None else compression_ratio
        if groups is None and self.merge:
            groups = self.groups(hidden_states, attention_mask, ratio)
        if groups is not None:
            if groups.shape != attention_mask.shape:
                shapes = f"{tuple(groups.shape)} and {tuple(attention_mask.shape)}"
                raise ValueError(f"groups and attention_mask must have one shape, got {shapes}")
            if not bool((groups.max(dim=1).values + 1 < attention_mask.bool().sum(dim=1)).any()):
                return hidden_states, attention_mask  # no sample changes length
            return pool_groups(hidden_states, attention_mask, groups, self.padding_side)
        return compress_tokens(
            hidden_states,
            attention_mask,
            ratio,
            self.length_threshold,
            self.padding_side,
            self.keep_ends,
            self.disjoint,
        )

    def extra_repr(self) -> str:
        return (
            f"length_threshold={self.length_threshold}, compression_ratio={self.compression_ratio}, "
            f"padding_side={self.padding_side!r}, keep_ends={self.keep_ends}, disjoint={self.disjoint}, "
            f"merge={self.merge}"
        )
