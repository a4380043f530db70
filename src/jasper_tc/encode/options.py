"""How texts are encoded: one frozen value, checked once, carried by every caller of the encoder.

The API (``encoder.encode(texts, compression_ratio=0.33)`` or ``encode(texts, options)``), the ``encode``
command, a teacher's config (``teachers[i].encode``), the evaluation suite and the server all describe an
encoding with :class:`EncodeOptions`. What can be checked without a model is checked here, when the value
is made; what depends on the model (its window, its threshold) is checked by
:func:`~jasper_tc.encode.long_inputs.plan_long_inputs`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..model import check_ratio

__all__ = ["LONG_INPUTS", "EncodeOptions", "LongInputs"]

LongInputs = Literal["truncate", "fit", "chunk", "segments"]
LONG_INPUTS = ("truncate", "fit", "chunk", "segments")
# Options that decide how fast, not what comes out: a store made with other values still holds the same vectors.
_BATCHING = ("batch_size", "max_tokens_per_batch")


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class EncodeOptions:
    # A prompt of the model (e.g. "query", "document"), or a literal prompt put before every text; not both.
    prompt_name: str | None = None
    prompt: str | None = None
    # In (0, 1]; None: the model's default (1.0 for models without jasper_mlp; 1.0 under "fit", whose
    # budget then sets each input's ratio).
    compression_ratio: float | None = None
    # At most this many inputs, and (when set) padded tokens, per forward.
    batch_size: int = 32
    max_tokens_per_batch: int | None = None
    # Tokens read per input, prompt and special tokens included; longer inputs are cut. None: the model's
    # window under "truncate", 32,768 under "fit" and "chunk" (which may read past the window).
    max_length: int | None = None
    # Inputs past the window: cut them ("truncate"), compress each by the largest ratio that brings it
    # within ``token_budget`` positions ("fit"), embed windows overlapping by ``chunk_overlap`` tokens
    # and average them, weighted by their tokens ("chunk"), or split them into segments of
    # ``segment_length`` tokens, each compressed to fit ``token_budget`` positions, embedded in one batch
    # and averaged the same way ("segments": chunking's reading in a fraction of its forwards).
    long_inputs: LongInputs = "truncate"
    token_budget: int | None = None  # "fit": None is the model's max length; "segments": half of it
    chunk_overlap: int = 32  # "chunk" and "segments"
    segment_length: int | None = None  # "segments" only; None: twice the model's max length
    normalize: bool = True  # L2-normalise each embedding
    # "fit" and "segments" (late chunking): each window of the input's text (the model's max length, as
    # "chunk" cuts it) gets a vector of its own, the mean of the last-layer states of the pooled tokens that
    # came from it, all from one forward per input or segment; the embedding is their token-weighted mean
    # as under "chunk", and ``return_segments`` gives them one each.
    late_chunking: bool = False
    # Late chunking only: tokens of text per vector (None: the model's max length). Shorter stretches give a
    # multi-vector document more, finer vectors at no extra forward: a query matching one sentence of a long
    # page finds the stretch that holds it (docs/long-documents.md).
    late_chunk_length: int | None = None

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        if self.compression_ratio is not None:
            object.__setattr__(self, "compression_ratio", check_ratio(self.compression_ratio))

    def _problems(self) -> list[str]:
        problems = []
        if self.prompt is not None and self.prompt_name is not None:
            problems.append("give prompt or prompt_name, not both")
        for key in ("prompt", "prompt_name"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                problems.append(f"{key} must be a string, got {type(value).__name__}")
        if self.compression_ratio is not None:
            try:
                check_ratio(self.compression_ratio)
            except (TypeError, ValueError) as error:
                problems.append(str(error))
        if not _positive(self.batch_size):
            problems.append(f"batch_size must be at least 1, got {self.batch_size!r}")
        if self.max_tokens_per_batch is not None and not _positive(self.max_tokens_per_batch):
            problems.append(f"max_tokens_per_batch must be at least 1, got {self.max_tokens_per_batch!r}")
        if self.max_length is not None and not _positive(self.max_length):
            problems.append(f"max_length must be a positive integer, got {self.max_length!r}")
        if self.long_inputs not in LONG_INPUTS:
            problems.append(f"long_inputs must be one of {', '.join(LONG_INPUTS)}, got {self.long_inputs!r}")
        elif self.token_budget is not None and self.long_inputs not in ("fit", "segments"):
            problems.append("token_budget goes with long_inputs='fit' (compress each input to fit the budget)")
        elif self.segment_length is not None and self.long_inputs != "segments":
            problems.append("segment_length goes with long_inputs='segments'")
        for key in ("token_budget", "segment_length"):
            if getattr(self, key) is not None and not _positive(getattr(self, key)):
                problems.append(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        if isinstance(self.chunk_overlap, bool) or not isinstance(self.chunk_overlap, int) or self.chunk_overlap < 0:
            problems.append(f"chunk_overlap must be an integer of at least 0, got {self.chunk_overlap!r}")
        if not isinstance(self.late_chunking, bool):
            problems.append(f"late_chunking must be True or False, got {self.late_chunking!r}")
        elif self.late_chunking and self.long_inputs not in ("fit", "segments"):
            problems.append(
                "late_chunking goes with long_inputs='fit' or 'segments' (one forward over many windows' text); "
                f"under {self.long_inputs!r} each window is already its own forward"
            )
        if self.late_chunk_length is not None:
            if not _positive(self.late_chunk_length):
                problems.append(f"late_chunk_length must be a positive integer, got {self.late_chunk_length!r}")
            elif self.late_chunking is not True:
                problems.append("late_chunk_length goes with late_chunking=True (the stretches it cuts)")
        if not isinstance(self.normalize, bool):
            problems.append(f"normalize must be True or False, got {self.normalize!r}")
        return problems

    @classmethod
    def of(cls, options: EncodeOptions | None = None, **changes: Any) -> EncodeOptions:
        """``options`` (default: all defaults) with ``changes``; an unknown name is an error listing the valid ones."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise TypeError(f"unknown encode option(s) {', '.join(unknown)}; the options are: {valid}")
        base = options if options is not None else cls()
        if not isinstance(base, EncodeOptions):
            raise TypeError(f"options must be an EncodeOptions, got {type(base).__name__}")
        return dataclasses.replace(base, **changes) if changes else base

    def source(self) -> dict[str, Any]:
        """What decides the vectors (batching aside; long-input settings only where they act): recorded in a
        store's header, so that a resumed run must make its vectors the same way."""
        skipped = set(_BATCHING)
        if self.long_inputs not in ("chunk", "segments"):
            skipped.add("chunk_overlap")
        if self.long_inputs not in ("fit", "segments"):
            skipped.add("token_budget")
        if self.long_inputs != "segments":
            skipped.add("segment_length")
        if not self.late_chunking:
            skipped.add("late_chunking")  # stores made before the option keep their header
        if self.late_chunk_length is None:
            skipped.add("late_chunk_length")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skipped}
