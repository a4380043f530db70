"""What a forward costs, counted: multiply-adds of the backbone's layers and of ``jasper_mlp``, per input
length, ratio and pool placement -- the modelled cost beside the measured time, for shapes not at hand (the
release's 600M backbone on a CPU)."""

from __future__ import annotations

from .compressor import LENGTH_THRESHOLD, compressed_length

__all__ = ["forward_flops", "layer_flops"]


def layer_flops(tokens: int, config) -> float:
    """Multiply-adds x2 of one decoder or encoder layer over one sequence of ``tokens`` (full attention)."""
    h, q, kv = config.hidden_size, config.num_attention_heads, getattr(config, "num_key_value_heads", None)
    kv = kv or q
    d = getattr(config, "head_dim", None) or h // q
    f = config.intermediate_size
    gated = getattr(config, "hidden_act", "silu") in ("silu", "swish")  # SwiGLU: gate, up and down
    projections = h * q * d * 2 + h * kv * d * 2 + (3 if gated else 2) * h * f
    return 2 * tokens * projections + 4 * tokens * tokens * q * d


def forward_flops(
    tokens: int, ratio: float, config, *, after_layer: int = 0, mlp: bool = True, threshold: int = LENGTH_THRESHOLD
) -> float:
    """A forward over one input of ``tokens``: ``jasper_mlp`` over every token (when there is one), the first
    ``after_layer`` layers at full length, the others at the compressed length."""
    kept = compressed_length(tokens, ratio, threshold)
    mlp_flops = 2 * tokens * 3 * config.hidden_size * config.intermediate_size if mlp else 0.0
    layers = config.num_hidden_layers
    return mlp_flops + after_layer * layer_flops(tokens, config) + (layers - after_layer) * layer_flops(kept, config)
