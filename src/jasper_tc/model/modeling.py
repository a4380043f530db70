"""The Jasper-TC embedding model, read top to bottom:

    input_ids -> backbone input embeddings -> jasper_mlp (SwiGLU; or x + jasper_mlp(x)) -> token compressor
              -> backbone layers (positions restart at 0) -> masked mean pool -> linear_1

The state-dict keys are the release's (``model.*``, ``jasper_mlp.*``, ``linear_1.*``), so a release
folder loads into this class without its remote code. The model knows nothing of tokenizers,
prompts or training.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from .compressor import TokenCompressor, check_ratio, check_ratios
from .config import JasperTCConfig
from .layers import layer_stepper
from .pooling import mean_pool, source_positions, span_means

__all__ = ["JasperTCModel", "SwiGLU"]


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))`` without bias: the layout of Qwen3's MLP, hence of ``jasper_mlp``."""

    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def drop_pooler(backbone: PreTrainedModel) -> PreTrainedModel:
    """Remove a BERT-style [CLS] pooler, unused since the model mean-pools (its weights are then not saved)."""
    if getattr(backbone, "pooler", None) is not None:
        backbone.pooler = None
    return backbone


PACKABLE_BACKBONES = frozenset({"qwen3", "qwen2", "llama", "mistral"})  # causal: packed inputs stay apart


def compressor_for(config: JasperTCConfig) -> TokenCompressor:
    """The pool a config describes: its threshold, default ratio, padding side, kept ends and windows."""
    return TokenCompressor(
        length_threshold=config.length_threshold,
        compression_ratio=config.compression_ratio,
        padding_side=config.padding_side,
        keep_ends=config.compress_keep_ends,
        disjoint=config.compress_windows == "disjoint",
        merge=config.compress_pool == "merge",
    )


class JasperTCModel(PreTrainedModel):
    """A transformers backbone with a token compressor after its embedding lookup, pooled to one vector.

    ``forward`` returns the un-normalised ``(batch, embedding_dim)`` embedding, as the release does.
    """

    config_class = JasperTCConfig
    config: JasperTCConfig
    base_model_prefix = "jasper_tc"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def __init__(self, config: JasperTCConfig) -> None:
        super().__init__(config)
        self.model = drop_pooler(AutoModel.from_config(config.text_config))
        hidden_size = config.text_config.hidden_size
        self.jasper_mlp = SwiGLU(hidden_size, config.mlp_intermediate_size) if config.use_jasper_mlp else None
        self.linear_1 = nn.Linear(hidden_size, config.embedding_dim, bias=True)
        self.token_compressor = compressor_for(config)
        # compress_pool "scored": a token's weight in its window is exp(score); zero weights: the plain mean.
        self.token_scorer = nn.Linear(hidden_size, 1, bias=False) if config.compress_pool == "scored" else None
        backbone_parameters = inspect.signature(self.model.forward).parameters
        self._backbone_takes_positions = "position_ids" in backbone_parameters
        self._backbone_caches = "use_cache" in backbone_parameters  # a decoder: no KV cache for one pass
        self.post_init()
        if self.token_scorer is not None:  # an untrained scorer weighs every token alike: the mean
            nn.init.zeros_(self.token_scorer.weight)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    @property
    def learns_compression(self) -> bool:
        """Whether anything in the model was made to work under the pool: a jasper_mlp, a scorer, or layers
        that run before it. A model without any (a stage-1 student, a plain model) pools training-free."""
        return (
            self.jasper_mlp is not None
            or self.token_scorer is not None
            or self.config.compress_after_layer > 0
            or self.config.compression_trained
        )

    def effective_ratio(self, compression_ratio: float | None) -> float:
        """The ratio a call runs at: its own, else the config's default (1.0 for a model that did not learn
        compression)."""
        if compression_ratio is not None:
            return check_ratio(compression_ratio)
        return self.config.compression_ratio if self.learns_compression else 1.0

    def _ratios(self, compression_ratio, batch: int) -> float | Tensor:
        """One ratio for the batch, or one per sample (checked, as a float64 tensor)."""
        if compression_ratio is None or isinstance(compression_ratio, float | int):
            return self.effective_ratio(compression_ratio)
        return check_ratios(compression_ratio, batch)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        compression_ratio: float | Tensor | None = None,
        token_type_ids: Tensor | None = None,
        return_dict: bool | None = None,
        padding_free: bool = False,
        return_token_states: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """Embed a padded batch.

        Args:
            input_ids: ``(B, L)`` token ids, padded on either side.
            attention_mask: ``(B, L)``, 1 for real tokens; all ones when omitted.
            compression_ratio: in (0, 1], for this call only; None = the config's default. One per sample
                (a sequence or 1-D tensor) compresses each sample at its own ratio.
            token_type_ids: accepted so that tokenizer outputs pass through; ignored (one segment per text).
            return_dict: accepted so that sentence-transformers' calls pass through; ignored (the output is
                always a tensor).
            padding_free: run the backbone on the batch's valid positions only, packed in one row (causal
                backbones: flash-attention's variable-length kernels keep inputs apart on a GPU, a
                block-diagonal mask elsewhere); the same embeddings without compute spent on padding.
            return_token_states: also return the last layer's ``(B, T, H)`` token states and their ``(B, T)``
                mask (``T`` the compressed length): what a token-level loss compares (not with padding_free).

        Returns:
            ``(B, embedding_dim)`` un-normalised embeddings in the model's dtype.
        """
        ratio = self._ratios(compression_ratio, input_ids.shape[0])
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.input_states(input_ids)  # (B, L, H)
        compressing = bool((torch.as_tensor(ratio) < 1.0).any())  # at 1.0 every input keeps its length
        if compressing and self.pools_inside():
            token_states, attention_mask = self._pooled_inside(hidden, attention_mask, ratio)
        else:
            if compressing:
                hidden, attention_mask = self.pool(hidden, attention_mask, ratio)  # (B, T, H), (B, T)
            if padding_free:
                return self._head(self._packed_mean(hidden, attention_mask))
            token_states = self._backbone(hidden, attention_mask)  # (B, T, H)
        embedding = self._head(mean_pool(token_states, attention_mask))  # (B, H) float32 -> (B, embedding_dim)
        return (embedding, token_states, attention_mask) if return_token_states else embedding

    def span_embeddings(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        compression_ratio: float | Tensor | None,
        span: int,
        backbone: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Late chunking: one embedding per stretch of ``span`` input tokens, from one forward over the whole
        (compressed) input. Each pooled token belongs to the stretch of the mean place its window came from.

        Returns ``(B, S, embedding_dim)`` embeddings and ``(B, S)`` counts of the pooled tokens behind each
        (0: the pool left that stretch no token of its own; its row is not an embedding). The count-weighted
        mean of a row's embeddings is :meth:`forward`'s embedding of it. ``backbone``: what runs the layers
        over ``(B, T, H)`` states and their mask (another runtime's compiled layers); default this model's.
        """
        ratio = self._ratios(compression_ratio, input_ids.shape[0])
        if self.pools_inside() or self.token_scorer is not None:
            raise ValueError(
                "late chunking needs the pool before the backbone with plain windows (compress_after_layer: 0, "
                "compress_positions: renumber, compress_pool other than scored)"
            )
        hidden = self.input_states(input_ids)
        where = source_positions(attention_mask)
        if bool((torch.as_tensor(ratio) < 1.0).any()):
            groups = self.token_compressor.groups(hidden, attention_mask, ratio)  # None: fixed windows
            pooled_where, _ = self.token_compressor(where.unsqueeze(-1), attention_mask, ratio, groups)
            hidden, attention_mask = self.pool(hidden, attention_mask, ratio, groups)
            where = pooled_where.squeeze(-1)
        states = (backbone or self._backbone)(hidden, attention_mask)
        means, counts = span_means(states, attention_mask, where, span)
        return self._head(means), counts

    def input_states(self, input_ids: Tensor) -> Tensor:
        """``(B, L, H)`` states the pool and the backbone read: the embeddings, through ``jasper_mlp`` when there
        is one (it replaces them, as in the release, or adds to them)."""
        hidden = self.model.get_input_embeddings()(input_ids)
        if self.jasper_mlp is not None:
            hidden = hidden + self.jasper_mlp(hidden) if self.config.jasper_mlp_residual else self.jasper_mlp(hidden)
        return hidden

    def _backbone(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        """The backbone's layers over ``(B, T, H)`` input states, positions counted from each sample's first
        valid token whatever the padding side; its last layer's ``(B, T, H)`` states."""
        backbone_inputs: dict[str, Any] = {"inputs_embeds": hidden, "attention_mask": attention_mask}
        if self._backbone_takes_positions:
            backbone_inputs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        if self._backbone_caches:
            backbone_inputs["use_cache"] = False
        return self.model(**backbone_inputs).last_hidden_state

    def pool(
        self, hidden: Tensor, attention_mask: Tensor, ratio: float | Tensor, groups: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """The token pool: each window's mean, or (``compress_pool: scored``) its weighted mean; the windows
        ``groups`` when given (``compress_pool: merge`` chooses them from ``hidden`` otherwise)."""
        if self.token_scorer is None:
            return self.token_compressor(hidden, attention_mask, ratio, groups=groups)
        scores = self.token_scorer(hidden).squeeze(-1).float().clamp(-20.0, 20.0)  # (B, L)
        weights = torch.exp(scores) * attention_mask.to(scores.dtype)  # (B, L)
        summed, mask = self.token_compressor(hidden.float() * weights.unsqueeze(-1), attention_mask, ratio)
        total, _ = self.token_compressor(weights.unsqueeze(-1), attention_mask, ratio)  # (B, T, 1)
        return (summed / total.clamp(min=1e-12)).to(hidden.dtype), mask

    def input_groups(self, input_ids: Tensor, attention_mask: Tensor, ratio: float | Tensor) -> Tensor | None:
        """The windows ``compress_pool: merge`` chooses for these inputs (None for fixed windows): what the
        token-level term pools a teacher's states by, so that its targets are the student's windows."""
        if not self.token_compressor.merge:
            return None
        if self.pools_inside():
            raise ValueError(
                "compress_pool: merge chooses its windows after a layer here; the token-level term "
                "takes them from the input only (compress_after_layer: 0, compress_positions: renumber)"
            )
        with torch.no_grad():
            return self.token_compressor.groups(self.input_states(input_ids), attention_mask, ratio)

    def pools_inside(self) -> bool:
        """Whether the pool acts inside the backbone (after a layer, or with positions kept), not before it."""
        return self.config.compress_after_layer > 0 or self.config.compress_positions == "keep"

    def _pooled_inside(self, hidden: Tensor, attention_mask: Tensor, ratio: float | Tensor) -> tuple[Tensor, Tensor]:
        """Last-layer ``(B, T, H)`` states and ``(B, T)`` mask of a backbone run layer by layer: positions given,
        the first ``compress_after_layer`` layers at full length, the pool, the other layers on the pooled tokens."""
        stepper = layer_stepper(self.model)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L)
        after = self.config.compress_after_layer
        states = stepper.run(stepper.start(hidden, positions), attention_mask, positions, 0, after)
        groups = self.token_compressor.groups(states, attention_mask, ratio)  # None: fixed windows
        pooled, pooled_mask = self.pool(states, attention_mask, ratio, groups)  # (B, T, H), (B, T)
        if self.config.compress_positions == "keep" and stepper.positional_at_every_layer:
            where, _ = self.token_compressor(positions.unsqueeze(-1).to(states.dtype), attention_mask, ratio, groups)
            pooled_positions = where.squeeze(-1)  # (B, T) each pooled token at its window's mean position
        else:
            pooled_positions = (pooled_mask.long().cumsum(-1) - 1).clamp(min=0)
        states = stepper.run(pooled, pooled_mask, pooled_positions, after, len(stepper.layers))
        return stepper.finish(states), pooled_mask

    def _head(self, pooled: Tensor) -> Tensor:
        weight = self.linear_1.weight  # a method, not a tensor, once dynamically quantized (it takes float32)
        return self.linear_1(pooled.to(weight.dtype if isinstance(weight, torch.Tensor) else torch.float32))

    def _packed_mean(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        """Mean-pooled ``(B, H)`` float32 states of the valid positions, run as one packed row whose position
        ids restart at 0 for each input (how transformers tells packed inputs apart)."""
        model_type = self.config.text_config.model_type
        if model_type not in PACKABLE_BACKBONES:
            raise ValueError(
                f"padding_free needs a causal backbone ({', '.join(sorted(PACKABLE_BACKBONES))}); this one is "
                f"{model_type!r}, whose attention would mix the packed inputs"
            )
        valid = attention_mask.bool()
        lengths = valid.sum(-1)  # (B,)
        packed = hidden[valid].unsqueeze(0)  # (1, N, H)
        starts = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)  # (N,)
        positions = torch.arange(packed.shape[1], device=hidden.device) - starts
        states = self.model(
            inputs_embeds=packed, position_ids=positions.unsqueeze(0), use_cache=False
        )  # no cache: a cache hides the packing
        states = states.last_hidden_state[0]  # (N, H)
        owner = torch.repeat_interleave(torch.arange(len(lengths), device=hidden.device), lengths)
        summed = states.new_zeros(len(lengths), states.shape[-1], dtype=torch.float32).index_add_(
            0, owner, states.float()
        )
        return summed / lengths.clamp(min=1).unsqueeze(-1).float()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Load a checkpoint saved by this package or laid out like the release (no remote code needed).

        Missing, unexpected or mis-shaped weights are an error naming them, never a silent random init.
        """
        from .release import load_jasper_config, raise_on_key_mismatch

        if kwargs.get("config") is None:
            config_kwargs = {
                k: kwargs.pop(k) for k in ("revision", "token", "cache_dir", "local_files_only") if k in kwargs
            }
            kwargs["config"] = load_jasper_config(pretrained_model_name_or_path, **config_kwargs)
            kwargs.update(config_kwargs)
        wants_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs)
        raise_on_key_mismatch(pretrained_model_name_or_path, info)
        return (model, info) if wants_info else model

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, tokenizer: Any = None, **kwargs: Any):
        """Save weights and config, plus the files sentence-transformers reads, and the tokenizer if given."""
        from .st_files import write_sentence_transformers_files

        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            if tokenizer is not None:
                tokenizer.padding_side = self.config.padding_side
                if self.config.max_seq_length:
                    tokenizer.model_max_length = self.config.max_seq_length
                tokenizer.save_pretrained(save_directory)
            write_sentence_transformers_files(save_directory, self.config)


def register_auto_classes() -> None:
    """Let ``AutoConfig``/``AutoModel`` (and so sentence-transformers) resolve ``model_type: jasper_tc``."""
    AutoConfig.register(JasperTCConfig.model_type, JasperTCConfig, exist_ok=True)
    AutoModel.register(JasperTCConfig, JasperTCModel, exist_ok=True)
