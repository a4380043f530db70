"""The encoder: texts in, embeddings out, in input order, whatever they are batched with.

The algorithm is sentence-transformers': tokenize, sort by token length, batch, run under inference
mode, move to CPU, unsort -- with batches bounded by padded tokens as well as by count, truncation
that is always reported, and a compression ratio chosen per call.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from .backends import Backend
from .batching import plan_batches
from .late_chunking import window_vectors
from .long_inputs import (
    Chunks,
    LongInputPlan,
    combine_chunks,
    fit_ratios,
    plan_long_inputs,
    split_chunks,
    tokens_after,
)
from .options import EncodeOptions
from .truncation import truncate_ids

__all__ = ["Encoder", "PreparedInputs", "TokenCounts", "TruncationWarning"]

Output = Literal["numpy", "torch"]
# Texts are cut to this many characters per allowed token before tokenizing, so a huge string costs
# no more than a long one; no tokenizer in use packs more characters than this into one token.
_CHARS_PER_TOKEN_CAP = 64


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
class _Embedded:
    """Embedded inputs: a vector each, the tokens the layers saw, the windows read, the lowest ratio run at,
    and each input's windows' own vectors (its multi-vector form)."""

    vectors: Tensor  # (N, D)
    after: list[int]
    windows: list[int]
    ratios: list[float]
    segments: list[Tensor]  # N of (k_i, D), L2-normalised


@dataclass(frozen=True)
class PreparedInputs:
    """Texts tokenised by a plan: ids (cut to the plan's cap), uncut counts, which were cut, and the ratio
    each runs at. What :meth:`Encoder.encode` embeds, and what the server queues."""

    ids: list[list[int]]
    counts: list[int]
    truncated: list[bool]
    ratios: list[float]
    plan: LongInputPlan


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

    def __init__(self, backend: Backend, precision: str = "fp32", precision_probe=None) -> None:
        self.backend = backend
        self.precision = precision  # fp32, bf16, fp16 or int8: how the forward runs (``load``'s dtype)
        self.precision_probe = precision_probe  # what dtype="auto" measured, when it chose

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
        if prompt is not None:
            return prompt
        if prompt_name is None:
            return ""
        if prompt_name not in self.prompts:
            known = ", ".join(repr(name) for name in sorted(self.prompts)) or "none"
            raise ValueError(f"unknown prompt_name {prompt_name!r}; this model's prompts are: {known}")
        return self.prompts[prompt_name]

    def check(self, options: EncodeOptions) -> LongInputPlan:
        """``options`` checked against this model (its window, threshold and prompts), before any text is read."""
        self.resolve_prompt(options.prompt_name, options.prompt)
        return plan_long_inputs(options, self.backend)

    def tokenize(self, texts: list[str], max_length: int) -> tuple[list[list[int]], list[int], list[bool]]:
        """Token ids cut to ``max_length`` (special tokens kept), the uncut counts, and which were cut.

        One tokenizer pass: a row past ``max_length`` is cut in place, as the tokenizer's own truncation cuts
        it (its special tokens kept at their ends), rather than tokenized a second time.
        """
        if not texts:
            return [], [], []
        char_cap = max_length * _CHARS_PER_TOKEN_CAP
        capped = [text[:char_cap] for text in texts]
        ids = self.tokenizer(capped, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        counts = [len(row) for row in ids]
        too_long = [i for i, n in enumerate(counts) if n > max_length]
        if too_long:
            cut = truncate_ids(self.tokenizer, [ids[i] for i in too_long], max_length)
            if cut is None:  # special tokens not around the text: the tokenizer cuts, at a second pass
                cut = self.tokenizer(
                    [capped[i] for i in too_long], add_special_tokens=True, truncation=True, max_length=max_length
                )["input_ids"]
            for i, row in zip(too_long, cut):
                ids[i] = row
        truncated = [n > max_length or len(text) > char_cap for n, text in zip(counts, texts)]
        return ids, counts, truncated

    def prepare(self, texts: list[str], options: EncodeOptions) -> PreparedInputs:
        """Plan, prompt and tokenise ``texts``: the unit shared by :meth:`encode` and the server."""
        plan = self.check(options)
        prefix = self.resolve_prompt(options.prompt_name, options.prompt)
        ids, counts, truncated = self.tokenize([prefix + text for text in texts], plan.cap)
        return PreparedInputs(ids, counts, truncated, plan.ratios([len(row) for row in ids]), plan)

    @torch.inference_mode()
    def encode(
        self,
        texts: str | Sequence[str],
        options: EncodeOptions | None = None,
        *,
        output: Output = "numpy",
        show_progress_bar: bool | None = None,
        return_details: bool = False,
        return_segments: bool = False,
        **changes,
    ):
        """Embed ``texts``; rows come back in input order.

        Args:
            texts: a string (a 1-D result) or a list of strings. Empty or whitespace-only strings are
                an error naming them; an empty list gives a ``(0, dimension)`` result.
            options: an :class:`EncodeOptions`; keywords (``compression_ratio=0.33``, ``prompt_name=``,
                ``max_length=``, ``long_inputs=``, ``token_budget=``, ``batch_size=`` ...) are its fields
                and change it for this call. Inputs longer than ``max_length`` are cut, and one
                :class:`TruncationWarning` per call says how many.
            output: ``"numpy"`` (float32 array) or ``"torch"`` (float32 CPU tensor).
            show_progress_bar: None = when stderr is a terminal and there is more than one batch.
            return_details: also return a :class:`TokenCounts` per input.
            return_segments: a multi-vector result: per input, a ``(k, dimension)`` array of its windows'
                (``chunk``) or segments' (``segments``) own vectors, L2-normalised (one row under ``truncate``
                and ``fit``); score a query against a document by its best row (max-sim).
        """
        texts, single = check_texts(texts)
        if output not in ("numpy", "torch"):
            raise ValueError(f"output must be 'numpy' or 'torch', got {output!r}")
        options = EncodeOptions.of(options, **changes)
        prepared = self.prepare(texts, options)
        if any(prepared.truncated):
            cap = prepared.plan.cap
            warnings.warn(
                f"{sum(prepared.truncated)} of {len(texts)} input(s) were longer than max_length={cap} tokens "
                f"and were cut to {cap}",
                TruncationWarning,
                stacklevel=3,  # the caller of encode, past inference_mode's wrapper
            )
        embedded = self._embed_prepared(prepared, options, show_progress_bar)
        if return_segments:
            rows = [part.numpy() if output == "numpy" else part for part in embedded.segments]
            embeddings = rows[0] if single else rows
        else:
            embeddings = embedded.vectors[0] if single else embedded.vectors
            embeddings = embeddings.numpy() if output == "numpy" else embeddings
        if not return_details:
            return embeddings
        details = [
            TokenCounts(tokens=count, tokens_after_compression=kept, truncated=cut, ratio=r, chunks=w)
            for count, kept, cut, r, w in zip(
                prepared.counts, embedded.after, prepared.truncated, embedded.ratios, embedded.windows
            )
        ]
        return embeddings, details

    def _embed_prepared(
        self, prepared: PreparedInputs, options: EncodeOptions, show_progress_bar: bool | None
    ) -> _Embedded:
        """Embed prepared inputs by their plan: each at its ratio, or (``chunk``, ``segments``) as windows
        averaged, each window at its ratio; with the tokens the layers saw and the windows of each input."""
        plan, ids = prepared.plan, prepared.ids
        batching = {
            "batch_size": options.batch_size,
            "max_tokens_per_batch": options.max_tokens_per_batch,
            "show_progress_bar": show_progress_bar,
        }
        if plan.mode == "truncate" or (plan.mode == "fit" and not options.late_chunking):
            per_input = prepared.ratios if plan.mode == "fit" else plan.ratio
            result = self.embed_token_ids(ids, per_input, normalize=options.normalize, **batching)
            after = tokens_after([len(row) for row in ids], prepared.ratios, plan.threshold)
            return _Embedded(result, after, [1] * len(ids), prepared.ratios, list(F.normalize(result, dim=-1)[:, None]))
        if plan.mode == "fit":  # late chunking: each input one forward, its windows' vectors pooled from it
            chunks = Chunks(ids, list(range(len(ids))), [len(row) for row in ids])
        else:
            chunks = split_chunks(ids, self.tokenizer, plan.window, plan.overlap)
        lengths = [len(row) for row in chunks.ids]
        ratios = fit_ratios(lengths, plan.budget, plan.ratio, plan.threshold) if plan.mode != "chunk" else None
        span = (options.late_chunk_length or self.max_length) if options.late_chunking else None
        vectors, pieces = self._embed_windows(chunks, ratios or plan.ratio, span, batching)
        result = combine_chunks(vectors, pieces, len(ids))
        after, windows, lowest = [0] * len(ids), [0] * len(ids), [plan.ratio] * len(ids)
        per_window = ratios or [plan.ratio] * len(lengths)
        for owner, kept, ratio in zip(chunks.owner, tokens_after(lengths, per_window, plan.threshold), per_window):
            after[owner], windows[owner], lowest[owner] = (
                after[owner] + kept,
                windows[owner] + 1,
                min(lowest[owner], ratio),
            )
        owner = torch.tensor(pieces.owner)
        segments = [F.normalize(vectors[owner == i], dim=-1) for i in range(len(ids))]
        return _Embedded(F.normalize(result, dim=-1) if options.normalize else result, after, windows, lowest, segments)

    def _embed_windows(
        self, chunks: Chunks, ratio: float | list[float], span: int | None, batching: dict
    ) -> tuple[Tensor, Chunks]:
        """Un-normalised vectors of the windows (or segments) and who owns each: a forward per window, or
        (late chunking, ``span`` tokens per vector) a vector per stretch of text pooled from each segment's
        one forward."""
        if span is None:
            return self.embed_token_ids(chunks.ids, ratio, normalize=False, **batching), chunks
        spans = window_vectors(self, chunks.ids, ratio, span, **batching)
        owners = [chunks.owner[j] for j, (rows, _) in enumerate(spans) for _ in range(len(rows))]
        pieces = Chunks([], owners, [weight for _, weights in spans for weight in weights])
        empty = torch.empty(0, self.dimension)
        return torch.cat([rows for rows, _ in spans]) if spans else empty, pieces

    def embed_token_ids(
        self,
        token_ids: list[list[int]],
        compression_ratio: float | list[float],
        *,
        batch_size: int = 32,
        max_tokens_per_batch: int | None = None,
        normalize: bool = True,
        show_progress_bar: bool | None = False,
    ) -> Tensor:
        """Embed already-tokenised inputs in length-sorted batches; rows in input order, float32 on CPU.

        Sorting keeps padding small, which on a CPU is most of the cost of mixed lengths (the server, which
        cannot sort what has not arrived, picks each forward's inputs by length instead). A list of ratios
        gives each input its own. ``show_progress_bar=None``: when stderr is a terminal and there is more
        than one batch.
        """
        result = torch.empty(len(token_ids), self.dimension, dtype=torch.float32)
        for batch, ratio in self.batches(token_ids, compression_ratio, batch_size, max_tokens_per_batch,
                                         show_progress_bar):  # fmt: skip
            try:
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

    @staticmethod
    def batches(
        token_ids: list[list[int]],
        compression_ratio: float | list[float],
        batch_size: int,
        max_tokens_per_batch: int | None,
        show_progress_bar: bool | None,
    ) -> Iterator[tuple[list[int], float | list[float]]]:
        """Length-sorted batches of input indices, each with its ratio (its inputs' own, for a list), behind a
        progress bar (``None``: when stderr is a terminal and there is more than one batch)."""
        batches = plan_batches([len(row) for row in token_ids], batch_size, max_tokens_per_batch)
        if show_progress_bar is None:
            show_progress_bar = len(batches) > 1 and sys.stderr.isatty()
        for batch in tqdm(batches, desc="encode", unit="batch", disable=not show_progress_bar):
            each = isinstance(compression_ratio, list)
            yield batch, [compression_ratio[i] for i in batch] if each else compression_ratio

    def padded(
        self, token_ids: list[list[int]], compression_ratio: float | list[float]
    ) -> tuple[Tensor, Tensor, float | Tensor]:
        """A backend's inputs for tokenised inputs: padded ids and mask on its device, and the ratio (a list
        of one per input as a float64 tensor)."""
        padded = self.tokenizer.pad({"input_ids": token_ids}, padding=True, return_tensors="pt")
        if isinstance(compression_ratio, list):
            compression_ratio = torch.tensor(compression_ratio, dtype=torch.float64)
        device = self.backend.device
        return padded["input_ids"].to(device), padded["attention_mask"].to(device), compression_ratio

    @torch.inference_mode()
    def embed_batch(
        self, token_ids: list[list[int]], compression_ratio: float | list[float], *, normalize: bool = True
    ) -> Tensor:
        """One forward over already-tokenised inputs (from :meth:`tokenize`): ``(len, dimension)`` float32 on CPU.

        The unit of work of :meth:`encode` and of the server, so both give an input the same embedding.
        Non-finite rows raise ``FloatingPointError(message, rows)``.
        """
        embeddings = self.backend.embed(*self.padded(token_ids, compression_ratio)).float()  # (b, D)
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
