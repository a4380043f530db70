"""The encoder: texts in, embeddings out, in input order, whatever they are batched with.

The algorithm is sentence-transformers': tokenize, sort by token length, batch, run under inference
mode, move to CPU, unsort -- with batches bounded by padded tokens as well as by count, truncation
that is always reported, and a compression ratio chosen per call.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ..model import check_ratio, compressed_length
from .backends import Backend
from .batching import plan_batches
from .long_inputs import LONG_INPUTS, LongInputs, combine_chunks, fit_ratios, split_chunks

__all__ = ["Encoder", "TokenCounts", "TruncationWarning"]

Output = Literal["numpy", "torch"]
# Texts are cut to this many characters per allowed token before tokenizing, so a huge string costs
# no more than a long one; no tokenizer in use packs more characters than this into one token.
_CHARS_PER_TOKEN_CAP = 64
# How much of a long input ``fit`` and ``chunk`` read when the caller names no ``max_length``.
DEFAULT_LONG_CAP = 32_768


class TruncationWarning(UserWarning):
    """Some inputs were longer than ``max_length`` tokens and were cut."""


@dataclass(frozen=True)
class TokenCounts:
    """Per input: tokens it had (prompt and special tokens included), tokens the layers saw, truncated?,
    the ratio it ran at, and the windows it was embedded in (``chunk``; else 1)."""

    tokens: int
    tokens_after_compression: int
    truncated: bool
    ratio: float = 1.0
    chunks: int = 1


@dataclass(frozen=True)
class _LongInputPlan:
    mode: str
    cap: int  # tokens read per input (may pass the window for fit and chunk)
    budget: int | None  # fit: positions per input after compression
    window: int  # chunk: tokens per window


def check_texts(texts: object) -> tuple[list[str], bool]:
    """Validate the ``texts`` argument; return it as a list and whether it was a single string."""
    if isinstance(texts, str):
        texts = [texts]
        single = True
    elif isinstance(texts, (list, tuple)):
        single = False
    else:
        raise TypeError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            kind = "None" if text is None else f"a {type(text).__name__}"
            hint = " (nested lists are not accepted: flatten them first)" if isinstance(text, (list, tuple)) else ""
            raise TypeError(f"texts[{index}] is {kind}; every input must be a string{hint}")
    blank = [index for index, text in enumerate(texts) if not text.strip()]
    if blank:
        shown = ", ".join(f"texts[{i}]" for i in blank[:5]) + (", ..." if len(blank) > 5 else "")
        raise ValueError(
            f"{len(blank)} input(s) are empty or whitespace only ({shown}); an empty text has no meaning to "
            "embed, so drop them or replace them with a placeholder of your choice"
        )
    return list(texts), single


class Encoder:
    """Embeds texts with a :class:`Backend`; made by :func:`jasper_tc.load`."""

    def __init__(self, backend: Backend, precision: str = "fp32") -> None:
        self.backend = backend
        self.precision = precision  # fp32, bf16, fp16 or int8: how the forward runs (``load``'s dtype)
        self.precision_probe = None  # what dtype="auto" measured, when it chose

    def __repr__(self) -> str:
        return f"Encoder({self.backend.name!r}, dimension={self.dimension}, max_length={self.max_length})"

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    @property
    def prompts(self) -> dict[str, str]:
        return self.backend.prompts

    @property
    def max_length(self) -> int:
        return self.backend.max_length

    @property
    def tokenizer(self):
        return self.backend.tokenizer

    def resolve_prompt(self, prompt_name: str | None, prompt: str | None) -> str:
        """The text to prepend: ``prompt`` itself, or the checkpoint's prompt called ``prompt_name``."""
        if prompt is not None and prompt_name is not None:
            raise ValueError("give prompt or prompt_name, not both")
        if prompt is not None:
            if not isinstance(prompt, str):
                raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
            return prompt
        if prompt_name is None:
            return ""
        if prompt_name not in self.prompts:
            known = ", ".join(repr(name) for name in sorted(self.prompts)) or "none"
            raise ValueError(f"unknown prompt_name {prompt_name!r}; this model's prompts are: {known}")
        return self.prompts[prompt_name]

    def resolve_max_length(self, max_length: int | None) -> int:
        if max_length is None:
            return self.max_length
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        limit = self.backend.position_limit
        if limit is not None and max_length > limit:
            raise ValueError(f"max_length={max_length} exceeds this model's limit of {limit} positions")
        return max_length

    def tokenize(self, texts: list[str], max_length: int) -> tuple[list[list[int]], list[int], list[bool]]:
        """Token ids cut to ``max_length`` (special tokens kept), the uncut counts, and which were cut."""
        if not texts:
            return [], [], []
        char_cap = max_length * _CHARS_PER_TOKEN_CAP
        capped = [text[:char_cap] for text in texts]
        ids = self.tokenizer(capped, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        counts = [len(row) for row in ids]
        too_long = [i for i, n in enumerate(counts) if n > max_length]
        if too_long:
            cut = self.tokenizer(
                [capped[i] for i in too_long], add_special_tokens=True, truncation=True, max_length=max_length
            )["input_ids"]
            for i, row in zip(too_long, cut):
                ids[i] = row
        truncated = [n > max_length or len(text) > char_cap for n, text in zip(counts, texts)]
        return ids, counts, truncated

    def plan_long_inputs(
        self, long_inputs: str, max_length: int | None, token_budget: int | None, chunk_overlap: int
    ) -> _LongInputPlan:
        """Check the long-input settings together; every bad value is an error naming it and its limit."""
        if long_inputs not in LONG_INPUTS:
            raise ValueError(f"long_inputs must be one of {', '.join(LONG_INPUTS)}, got {long_inputs!r}")
        if long_inputs == "truncate":
            if token_budget is not None:
                raise ValueError("token_budget goes with long_inputs='fit' (compress each input to fit the budget)")
            return _LongInputPlan("truncate", self.resolve_max_length(max_length), None, self.max_length)
        cap = DEFAULT_LONG_CAP if max_length is None else max_length
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        limit, threshold = self.backend.position_limit, self.backend.length_threshold
        if long_inputs == "chunk":
            if token_budget is not None:
                raise ValueError("token_budget goes with long_inputs='fit'; chunk windows are the model's max_length")
            if not 0 <= chunk_overlap < self.max_length // 2:
                raise ValueError(f"chunk_overlap must be in [0, {self.max_length // 2}), got {chunk_overlap}")
            return _LongInputPlan("chunk", cap, None, self.max_length)
        budget = self.max_length if token_budget is None else token_budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget <= threshold:
            raise ValueError(
                f"token_budget must be an integer above the compression threshold of {threshold}, got {budget!r}"
            )
        if limit is not None and budget > limit:
            raise ValueError(f"token_budget={budget} exceeds this model's window of {limit} positions")
        if cap < budget:
            raise ValueError(f"max_length={cap} is below token_budget={budget}: nothing would need compressing")
        return _LongInputPlan("fit", cap, budget, self.max_length)

    @torch.inference_mode()
    def encode(
        self,
        texts: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        compression_ratio: float | None = None,
        batch_size: int = 32,
        max_tokens_per_batch: int | None = None,
        max_length: int | None = None,
        long_inputs: LongInputs = "truncate",
        token_budget: int | None = None,
        chunk_overlap: int = 32,
        normalize: bool = True,
        output: Output = "numpy",
        show_progress_bar: bool | None = None,
        return_details: bool = False,
    ):
        """Embed ``texts``; rows come back in input order.

        Args:
            texts: a string (a 1-D result) or a list of strings. Empty or whitespace-only strings are
                an error naming them; an empty list gives a ``(0, dimension)`` result.
            prompt_name: a prompt of the checkpoint (``query``, ``document``, ...); ``prompt``: a literal one.
            compression_ratio: in (0, 1]; None = the model's default (1.0 for models without jasper_mlp;
                1.0 under ``fit``, whose budget then sets each input's ratio).
            batch_size, max_tokens_per_batch: at most this many inputs / padded tokens per forward.
            max_length: tokens read per input, prompt and special tokens included; longer inputs are cut
                (one :class:`TruncationWarning` per call says how many). Under ``fit`` and ``chunk`` it
                may pass the model's window (default 32,768).
            long_inputs: ``truncate`` (cut at ``max_length`` within the window), ``fit`` (each input
                compressed by the largest ratio that brings it within ``token_budget`` positions, default
                the model's max length) or ``chunk`` (windows of the model's max length overlapping by
                ``chunk_overlap`` tokens, embedded and averaged, weighted by their tokens).
            normalize: L2-normalise the rows.
            output: ``"numpy"`` (float32 array) or ``"torch"`` (float32 CPU tensor).
            show_progress_bar: None = when stderr is a terminal and there is more than one batch.
            return_details: also return a :class:`TokenCounts` per input.
        """
        texts, single = check_texts(texts)
        if output not in ("numpy", "torch"):
            raise ValueError(f"output must be 'numpy' or 'torch', got {output!r}")
        plan = self.plan_long_inputs(long_inputs, max_length, token_budget, chunk_overlap)
        default = 1.0 if plan.mode == "fit" else self.backend.default_ratio
        ratio = default if compression_ratio is None else check_ratio(compression_ratio)
        prefix = self.resolve_prompt(prompt_name, prompt)

        ids, counts, truncated = self.tokenize([prefix + text for text in texts], plan.cap)
        if any(truncated):
            warnings.warn(
                f"{sum(truncated)} of {len(texts)} input(s) were longer than max_length={plan.cap} tokens "
                f"and were cut to {plan.cap}",
                TruncationWarning,
                stacklevel=3,  # the caller of encode, past inference_mode's wrapper
            )
        lengths = [len(row) for row in ids]
        if show_progress_bar is None:
            show_progress_bar = len(plan_batches(lengths, batch_size, max_tokens_per_batch)) > 1 and sys.stderr.isatty()
        batching = {"batch_size": batch_size, "max_tokens_per_batch": max_tokens_per_batch}
        result, ratios, after, windows = self._embed_planned(
            ids, plan, ratio, chunk_overlap, normalize=normalize, show_progress_bar=show_progress_bar, **batching
        )
        embeddings = result[0] if single else result
        embeddings = embeddings.numpy() if output == "numpy" else embeddings
        if not return_details:
            return embeddings
        details = [
            TokenCounts(tokens=count, tokens_after_compression=kept, truncated=cut, ratio=r, chunks=w)
            for count, kept, cut, r, w in zip(counts, after, truncated, ratios, windows)
        ]
        return embeddings, details

    def _embed_planned(self, ids, plan: _LongInputPlan, ratio: float, chunk_overlap: int, *, normalize, **batching):
        """Embed tokenised inputs by the plan: per-input ratios (``fit``), windows averaged (``chunk``), or as
        they are; also the ratio, the tokens the layers saw and the windows of each input."""
        threshold, lengths = self.backend.length_threshold, [len(row) for row in ids]
        if plan.mode != "chunk":
            ratios = fit_ratios(lengths, plan.budget, ratio, threshold) if plan.mode == "fit" else [ratio] * len(ids)
            per_input = ratios if plan.mode == "fit" else ratio
            result = self.embed_token_ids(ids, per_input, normalize=normalize, **batching)
            return result, ratios, [compressed_length(n, r, threshold) for n, r in zip(lengths, ratios)], [1] * len(ids)
        chunks = split_chunks(ids, self.tokenizer, plan.window, chunk_overlap)
        vectors = self.embed_token_ids(chunks.ids, ratio, normalize=False, **batching)
        result = combine_chunks(vectors, chunks, len(ids))
        after, windows = [0] * len(ids), [0] * len(ids)
        for owner, row in zip(chunks.owner, chunks.ids):
            after[owner] += compressed_length(len(row), ratio, threshold)
            windows[owner] += 1
        return (F.normalize(result, dim=-1) if normalize else result), [ratio] * len(ids), after, windows

    def embed_token_ids(
        self,
        token_ids: list[list[int]],
        compression_ratio: float | list[float],
        *,
        batch_size: int = 32,
        max_tokens_per_batch: int | None = None,
        normalize: bool = True,
        show_progress_bar: bool = False,
    ) -> Tensor:
        """Embed already-tokenised inputs in length-sorted batches; rows in input order, float32 on CPU.

        Sorting keeps padding small, which on a CPU is most of the cost of mixed lengths (the server, which
        cannot sort what has not arrived, picks each forward's inputs by length instead). A list of ratios
        gives each input its own.
        """
        result = torch.empty(len(token_ids), self.dimension, dtype=torch.float32)
        batches = plan_batches([len(row) for row in token_ids], batch_size, max_tokens_per_batch)
        for batch in tqdm(batches, desc="encode", unit="batch", disable=not show_progress_bar):
            try:
                ratio = (
                    [compression_ratio[i] for i in batch] if isinstance(compression_ratio, list) else compression_ratio
                )
                result[torch.tensor(batch)] = self.embed_batch(
                    [token_ids[i] for i in batch], ratio, normalize=normalize
                )
            except FloatingPointError as error:
                bad = [batch[i] for i in error.args[1]] if len(error.args) > 1 else batch
                raise FloatingPointError(
                    f"the model produced non-finite embeddings for texts{bad[:5]}; half-precision (fp16) overflows "
                    "in Qwen3-based models: use bf16 or fp32",
                    bad,
                ) from None
        return result

    @torch.inference_mode()
    def embed_batch(
        self, token_ids: list[list[int]], compression_ratio: float | list[float], *, normalize: bool = True
    ) -> Tensor:
        """One forward over already-tokenised inputs (from :meth:`tokenize`): ``(len, dimension)`` float32 on CPU.

        The unit of work of :meth:`encode` and of the server, so both give an input the same embedding.
        Non-finite rows raise ``FloatingPointError(message, rows)``.
        """
        padded = self.tokenizer.pad({"input_ids": token_ids}, padding=True, return_tensors="pt")
        device = self.backend.device
        if isinstance(compression_ratio, list):
            compression_ratio = torch.tensor(compression_ratio, dtype=torch.float64)
        embeddings = self.backend.embed(
            padded["input_ids"].to(device), padded["attention_mask"].to(device), compression_ratio
        ).float()  # (b, D)
        finite = torch.isfinite(embeddings).all(dim=1)
        if not finite.all():
            rows = torch.nonzero(~finite).flatten().tolist()
            raise FloatingPointError(f"non-finite embeddings for rows {rows[:5]} of the batch", rows)
        if normalize:
            embeddings = F.normalize(embeddings, dim=-1)
        return embeddings.cpu()

    def encode_query(self, texts: str | Sequence[str], **kwargs):
        """:meth:`encode` with the checkpoint's ``query`` prompt (none if it has no such prompt)."""
        return self.encode(texts, prompt_name="query" if "query" in self.prompts else None, **kwargs)

    def encode_document(self, texts: str | Sequence[str], **kwargs):
        """:meth:`encode` with the checkpoint's ``document`` prompt (none if it has no such prompt)."""
        return self.encode(texts, prompt_name="document" if "document" in self.prompts else None, **kwargs)

    @staticmethod
    def similarity(a, b):
        """Cosine similarity matrix ``(len(a), len(b))`` of two sets of embeddings (numpy or torch)."""
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a, b = np.atleast_2d(np.asarray(a, dtype=np.float32)), np.atleast_2d(np.asarray(b, dtype=np.float32))
            a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
            b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
            return a @ b.T
        a, b = torch.atleast_2d(a).float(), torch.atleast_2d(b).float()
        return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
