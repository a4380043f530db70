"""What the encoder runs: a small contract and its two implementations.

- :class:`JasperBackend` -- a :class:`JasperTCModel` (this package's checkpoints, the release).
- :class:`SentenceTransformerBackend` -- any sentence-transformers or plain transformers embedding
  model, used as a teacher or a baseline. A ratio below 1 applies the token compressor to its input
  embeddings training-free, with a one-time warning.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from ..model import LENGTH_THRESHOLD, JasperTCModel, compress_tokens, source_positions, span_means

__all__ = ["Backend", "JasperBackend", "SentenceTransformerBackend", "UntrainedCompressionWarning"]


class UntrainedCompressionWarning(UserWarning):
    """A model that was not trained with the token compressor is asked to compress."""


class Backend(Protocol):
    """The encoder's view of a model: a tokenizer, a few facts, and one batch -> embeddings call."""

    name: str
    tokenizer: PreTrainedTokenizerBase
    dimension: int
    prompts: dict[str, str]
    max_length: int  # default longest input, in tokens
    position_limit: int | None  # hard limit of the backbone, in tokens after compression
    length_threshold: int
    default_ratio: float

    def embed(self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor) -> Tensor:
        """``(B, L)`` padded ids and mask -> ``(B, dimension)`` un-normalised embeddings; one ratio for the
        batch, or a ``(B,)`` tensor of one per input."""
        ...

    def embed_spans(
        self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor, span: int
    ) -> tuple[Tensor, Tensor]:
        """Late chunking: ``(B, S, dimension)`` un-normalised embeddings of each stretch of ``span`` input
        tokens, from one forward per input, and ``(B, S)`` counts of the positions behind each (0: none)."""
        ...

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights as loaded (int8 quantization keeps the embedding table's)."""
        ...


class JasperBackend:
    """A Jasper-TC model and its tokenizer."""

    def __init__(self, model: JasperTCModel, tokenizer: PreTrainedTokenizerBase, name: str = "") -> None:
        config = model.config
        rows = model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) > rows:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model's embedding table only {rows} rows: "
                "this tokenizer does not belong to this model"
            )
        tokenizer.padding_side = config.padding_side
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or config.name_or_path
        self.dimension = config.embedding_dim
        self.prompts = dict(config.prompts or {})
        self.position_limit = getattr(config.text_config, "max_position_embeddings", None)
        self.max_length = config.max_seq_length or min(tokenizer.model_max_length, self.position_limit or 1 << 30)
        self.length_threshold = config.length_threshold
        self.default_ratio = model.effective_ratio(None)
        self.padding_free = False  # pack each batch's valid positions in one row (see JasperTCModel.forward)

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device  # never quantized, unlike the linear layers

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    def embed(self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor) -> Tensor:
        return self.model(
            input_ids, attention_mask, compression_ratio=compression_ratio, padding_free=self.padding_free
        )

    def embed_spans(
        self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor, span: int
    ) -> tuple[Tensor, Tensor]:
        return self.model.span_embeddings(input_ids, attention_mask, compression_ratio, span)


def _shown(ratio: float | Tensor) -> str:
    return f"{ratio:g}" if isinstance(ratio, float | int) else f"{float(ratio.min()):.3g}..{float(ratio.max()):.3g}"


class SentenceTransformerBackend:
    """A sentence-transformers model (plain transformers folders get its default mean pooling)."""

    length_threshold = LENGTH_THRESHOLD
    default_ratio = 1.0

    def __init__(self, model, name: str = "") -> None:
        self.model = model.eval()
        self.tokenizer: PreTrainedTokenizerBase = model.tokenizer
        self.name = name
        self.dimension = model.get_embedding_dimension()
        self.prompts = dict(getattr(model, "prompts", None) or {})
        backbone_config = getattr(getattr(model[0], "model", None), "config", None)
        self.position_limit = getattr(backbone_config, "max_position_embeddings", None)
        self.max_length = model.max_seq_length or self.position_limit or 512
        self._warned = False

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def embed(self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor) -> Tensor:
        return self.model(self._features(input_ids, attention_mask, compression_ratio))["sentence_embedding"]

    def embed_spans(
        self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor, span: int
    ) -> tuple[Tensor, Tensor]:
        kinds = [type(module).__name__ for module in self.model]
        pooling = self.model[1].get_config_dict().get("pooling_mode") if kinds[1:2] == ["Pooling"] else None
        if kinds[:2] != ["Transformer", "Pooling"] or pooling != "mean" or set(kinds[2:]) - {"Normalize"}:
            raise ValueError(
                f"late chunking pools stretches of the token states by their mean; {self.name or 'this model'} "
                f"is {' -> '.join(kinds)} pooled by {pooling!r}, which stretches of its states would not embed"
            )
        where = source_positions(attention_mask)
        if float(torch.as_tensor(compression_ratio).min()) < 1.0:
            where = self._pooled(where.unsqueeze(-1), attention_mask, compression_ratio)[0].squeeze(-1)
        features = self.model(self._features(input_ids, attention_mask, compression_ratio))
        return span_means(features["token_embeddings"], features["attention_mask"], where, span)

    def _pooled(self, states: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor):
        padding_side = self.tokenizer.padding_side
        return compress_tokens(states, attention_mask, compression_ratio, self.length_threshold, padding_side)

    def _features(self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor) -> dict:
        """The pipeline's inputs: the ids, or (a ratio below 1) the input embeddings pooled training-free."""
        if float(torch.as_tensor(compression_ratio).min()) >= 1.0:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
        else:
            if not self._warned:
                warnings.warn(
                    f"{self.name or 'this model'} was not trained with the token compressor: "
                    f"compression_ratio={_shown(compression_ratio)} pools its input embeddings training-free, "
                    "so expect lower quality than a Jasper-TC model gives at the same ratio.",
                    UntrainedCompressionWarning,
                    stacklevel=5,
                )
                self._warned = True
            backbone = getattr(self.model[0], "model", None)
            if backbone is None or not hasattr(backbone, "get_input_embeddings"):
                raise ValueError(f"{self.name or 'this model'} has no transformers backbone to compress the input of")
            embeddings = backbone.get_input_embeddings()(input_ids)  # (B, L, H)
            embeddings, attention_mask = self._pooled(embeddings, attention_mask, compression_ratio)
            features = {"inputs_embeds": embeddings, "attention_mask": attention_mask}
        return features
