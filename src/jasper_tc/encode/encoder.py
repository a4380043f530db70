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

__all__ = ["Encoder", "TokenCounts", "TruncationWarning"]

Output = Literal["numpy", "torch"]
# Texts are cut to this many characters per allowed token before tokenizing, so a huge string costs
# no more than a long one; no tokenizer in use packs more characters than this into one token.
_CHARS_PER_TOKEN_CAP = 64


class TruncationWarning(UserWarning):
    """Some inputs were longer than ``max_length`` tokens and were cut."""


@dataclass(frozen=True)
class TokenCounts:
    """Per input: tokens it had (prompt and special tokens included), tokens the layers saw, truncated?"""

    tokens: int
    tokens_after_compression: int
    truncated: bool


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

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

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
            compression_ratio: in (0, 1]; None = the model's default (1.0 for models without a compressor).
            batch_size, max_tokens_per_batch: at most this many inputs / padded tokens per forward.
            max_length: tokens per input, prompt and special tokens included; longer inputs are cut
                (one :class:`TruncationWarning` per call says how many).
            normalize: L2-normalise the rows.
            output: ``"numpy"`` (float32 array) or ``"torch"`` (float32 CPU tensor).
            show_progress_bar: None = when stderr is a terminal and there is more than one batch.
            return_details: also return a :class:`TokenCounts` per input.
        """
        texts, single = check_texts(texts)
        if output not in ("numpy", "torch"):
            raise ValueError(f"output must be 'numpy' or 'torch', got {output!r}")
        ratio = self.backend.default_ratio if compression_ratio is None else check_ratio(compression_ratio)
        prefix = self.resolve_prompt(prompt_name, prompt)
        max_length = self.resolve_max_length(max_length)

        ids, counts, truncated = self.tokenize([prefix + text for text in texts], max_length)
        if any(truncated):
            warnings.warn(
                f"{sum(truncated)} of {len(texts)} input(s) were longer than max_length={max_length} tokens "
                f"and were cut to {max_length}",
                TruncationWarning,
                stacklevel=3,  # the caller of encode, past inference_mode's wrapper
            )
        lengths = [len(row) for row in ids]
        if show_progress_bar is None:
            show_progress_bar = len(plan_batches(lengths, batch_size, max_tokens_per_batch)) > 1 and sys.stderr.isatty()
        result = self.embed_token_ids(
            ids, ratio, batch_size=batch_size, max_tokens_per_batch=max_tokens_per_batch, normalize=normalize,
            show_progress_bar=show_progress_bar,
        )  # fmt: skip

        embeddings = result[0] if single else result
        embeddings = embeddings.numpy() if output == "numpy" else embeddings
        if not return_details:
            return embeddings
        details = [
            TokenCounts(
                tokens=count,
                tokens_after_compression=compressed_length(length, ratio, self.backend.length_threshold),
                truncated=cut,
            )
            for count, length, cut in zip(counts, lengths, truncated)
        ]
        return embeddings, details

    def embed_token_ids(
        self,
        token_ids: list[list[int]],
        compression_ratio: float,
        *,
        batch_size: int = 32,
        max_tokens_per_batch: int | None = None,
        normalize: bool = True,
        show_progress_bar: bool = False,
    ) -> Tensor:
        """Embed already-tokenised inputs in length-sorted batches; rows in input order, float32 on CPU.

        Sorting keeps padding small, which on a CPU is most of the cost of mixed lengths: the server
        hands each queue batch here so it gets the same economy as an offline ``encode``.
        """
        result = torch.empty(len(token_ids), self.dimension, dtype=torch.float32)
        batches = plan_batches([len(row) for row in token_ids], batch_size, max_tokens_per_batch)
        for batch in tqdm(batches, desc="encode", unit="batch", disable=not show_progress_bar):
            try:
                result[torch.tensor(batch)] = self.embed_batch(
                    [token_ids[i] for i in batch], compression_ratio, normalize=normalize
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
    def embed_batch(self, token_ids: list[list[int]], compression_ratio: float, *, normalize: bool = True) -> Tensor:
        """One forward over already-tokenised inputs (from :meth:`tokenize`): ``(len, dimension)`` float32 on CPU.

        The unit of work of :meth:`encode` and of the server, so both give an input the same embedding.
        Non-finite rows raise ``FloatingPointError(message, rows)``.
        """
        padded = self.tokenizer.pad({"input_ids": token_ids}, padding=True, return_tensors="pt")
        device = self.backend.device
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
