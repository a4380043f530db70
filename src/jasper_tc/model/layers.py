"""A backbone run layer by layer, so that the token pool can act between two of its layers.

``compress_after_layer: k`` runs the first ``k`` layers at full length, pools their hidden states, and runs
the rest on the pooled ones. transformers' backbones run all their layers in one call, so this module
steps through them itself, for the two families the project uses: BERT-like encoders (absolute positions
added once, at the input; a bidirectional mask) and Qwen3-like decoders (rotary positions at every layer;
a causal mask; a final norm). The step-through is checked against the backbone's own forward in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["LayerStepper", "layer_stepper"]


@dataclass
class LayerStepper:
    """How to start, run a range of layers of, and finish one backbone."""

    layers: nn.ModuleList
    start: Callable[[Tensor, Tensor], Tensor]  # (inputs_embeds, positions) -> first layer's input
    context: Callable[[Tensor, Tensor, Tensor], dict]  # (hidden, mask, positions) -> the layers' keyword inputs
    finish: Callable[[Tensor], Tensor]  # last layer's output -> token states
    positional_at_every_layer: bool  # rotary positions (a pooled state can keep its window's mean position)

    def run(self, hidden: Tensor, mask: Tensor, positions: Tensor, first: int, last: int) -> Tensor:
        """Layers ``first`` .. ``last - 1`` over ``hidden`` ``(B, T, H)`` with its ``(B, T)`` mask."""
        context = self.context(hidden, mask, positions)
        for layer in self.layers[first:last]:
            hidden = layer(hidden, **context)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return hidden


def _bert(backbone: nn.Module) -> LayerStepper:
    from transformers.masking_utils import create_bidirectional_mask

    def start(embeds: Tensor, positions: Tensor) -> Tensor:
        types = torch.zeros(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        return backbone.embeddings(inputs_embeds=embeds, position_ids=positions.long(), token_type_ids=types)

    def context(hidden: Tensor, mask: Tensor, positions: Tensor) -> dict:
        mask = create_bidirectional_mask(config=backbone.config, inputs_embeds=hidden, attention_mask=mask)
        return {"attention_mask": mask}

    return LayerStepper(backbone.encoder.layer, start, context, lambda hidden: hidden, False)


def _qwen3(backbone: nn.Module) -> LayerStepper:
    from transformers.masking_utils import create_causal_mask

    def context(hidden: Tensor, mask: Tensor, positions: Tensor) -> dict:
        causal = create_causal_mask(
            config=backbone.config, inputs_embeds=hidden, attention_mask=mask, cache=None, position_ids=positions
        )
        rotary = backbone.rotary_emb(hidden, positions)
        return {"attention_mask": causal, "position_embeddings": rotary, "position_ids": positions, "use_cache": False}

    return LayerStepper(backbone.layers, lambda embeds, positions: embeds, context, backbone.norm, True)


FAMILIES = {"bert": _bert, "qwen3": _qwen3, "qwen2": _qwen3, "llama": _qwen3, "mistral": _qwen3}


def layer_stepper(backbone: nn.Module) -> LayerStepper:
    """The stepper of ``backbone``'s family, or an error naming the families that have one."""
    model_type = backbone.config.model_type
    if model_type not in FAMILIES:
        raise ValueError(
            f"compress_after_layer needs a backbone it can run layer by layer ({', '.join(sorted(FAMILIES))}); "
            f"this one is {model_type!r}"
        )
    return FAMILIES[model_type](backbone)
