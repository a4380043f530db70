"""Reading checkpoint folders: this package's own layout and the release's.

The release ships a stock ``qwen3`` ``config.json`` whose ``architectures`` names ``JasperV2Encoder``
and a ``model.safetensors`` whose keys match :class:`JasperTCModel`. Its config is turned into a
:class:`JasperTCConfig` here, reading the output size from the ``linear_1`` weight itself.
"""

from __future__ import annotations

import json
import os
from typing import Any

from safetensors import safe_open
from transformers import AutoConfig
from transformers.utils import cached_file

from .compressor import LENGTH_THRESHOLD
from .config import JasperTCConfig

__all__ = [
    "RELEASE_ARCHITECTURE",
    "RELEASE_BACKBONE",
    "is_jasper_config",
    "load_jasper_config",
    "raise_on_key_mismatch",
    "read_config_json",
    "release_backbone_config",
]

RELEASE_ARCHITECTURE = "JasperV2Encoder"
# The release's backbone, Qwen3-Embedding-0.6B: hidden 1024, 28 layers, 16 query / 8 key-value heads of 128,
# FFN 3072, vocabulary 151,669, RoPE base 1e6.
RELEASE_BACKBONE = {
    "vocab_size": 151669, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768,
    "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
}  # fmt: skip
# Config fields the release adds to its qwen3 config; they are ours, not the backbone's.
_RELEASE_FIELDS = ("auto_map", "architectures", "compression_ratio", "length_threshold", "vector_dim")


def read_config_json(path: str | os.PathLike, **hub_kwargs: Any) -> dict[str, Any] | None:
    """The raw ``config.json`` of a folder or hub name; None where there is none."""
    config_file = cached_file(str(path), "config.json", _raise_exceptions_for_missing_entries=False, **hub_kwargs)
    if config_file is None:
        return None
    with open(config_file, encoding="utf-8") as handle:
        return json.load(handle)


def is_jasper_config(raw: dict[str, Any] | None) -> bool:
    """True for this package's configs and for the release's (a qwen3 config naming JasperV2Encoder)."""
    return raw is not None and (
        raw.get("model_type") == JasperTCConfig.model_type or RELEASE_ARCHITECTURE in (raw.get("architectures") or [])
    )


def load_jasper_config(path: str | os.PathLike, **hub_kwargs: Any) -> JasperTCConfig:
    """Read ``config.json`` of a package checkpoint or a release folder into a :class:`JasperTCConfig`."""
    raw = read_config_json(path, **hub_kwargs)
    if raw is None:
        raise ValueError(f"{path} has no config.json: not a model folder")
    if raw.get("model_type") == JasperTCConfig.model_type:
        return JasperTCConfig.from_pretrained(str(path), **hub_kwargs)
    architectures = raw.get("architectures") or []
    if RELEASE_ARCHITECTURE not in architectures:
        raise ValueError(
            f"{path} is not a Jasper-TC checkpoint: its config.json has model_type {raw.get('model_type')!r} "
            f"and architectures {architectures!r} (expected model_type 'jasper_tc' or architectures naming "
            f"{RELEASE_ARCHITECTURE!r}). To turn a plain backbone into a student, use jasper_tc.build_student."
        )
    backbone = {key: value for key, value in raw.items() if key not in _RELEASE_FIELDS}
    text_config = AutoConfig.for_model(**backbone)
    embedding_dim = raw.get("vector_dim") or _linear_1_out_features(path, **hub_kwargs)
    return JasperTCConfig(
        text_config=text_config,
        embedding_dim=embedding_dim,
        use_jasper_mlp=True,
        length_threshold=raw.get("length_threshold", LENGTH_THRESHOLD),
        compression_ratio=raw.get("compression_ratio", 0.5),
        padding_side="left",
        max_seq_length=1024,  # the release was distilled on inputs of at most 1,024 tokens
    )


def _linear_1_out_features(path: str | os.PathLike, **hub_kwargs: Any) -> int:
    """Output size of ``linear_1`` read from the safetensors header, without loading any weight."""
    index_file = cached_file(
        str(path), "model.safetensors.index.json", _raise_exceptions_for_missing_entries=False, **hub_kwargs
    )
    filename = "model.safetensors"
    if index_file is not None:
        with open(index_file, encoding="utf-8") as handle:
            filename = json.load(handle)["weight_map"].get("linear_1.weight", filename)
    weights_file = cached_file(str(path), filename, **hub_kwargs)
    with safe_open(weights_file, framework="pt") as weights:
        if "linear_1.weight" not in weights.keys():  # noqa: SIM118 (safe_open is no mapping)
            raise ValueError(f"{weights_file} has no 'linear_1.weight': not a Jasper-TC release checkpoint")
        return int(weights.get_slice("linear_1.weight").get_shape()[0])


def raise_on_key_mismatch(path: str | os.PathLike, loading_info: dict[str, Any]) -> None:
    """Fail loudly where transformers would only warn and initialise weights at random."""
    missing = sorted(loading_info.get("missing_keys") or [])
    unexpected = sorted(loading_info.get("unexpected_keys") or [])
    mismatched = sorted(str(item) for item in loading_info.get("mismatched_keys") or [])
    if not (missing or unexpected or mismatched):
        return
    parts = []
    if missing:
        parts.append(f"missing keys {_shorten(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {_shorten(unexpected)}")
    if mismatched:
        parts.append(f"keys with the wrong shape {_shorten(mismatched)}")
    raise ValueError(
        f"The weights in {path} do not fit a Jasper-TC model of its config: " + "; ".join(parts) + ". "
        "Expected the release's layout (model.*, jasper_mlp.*, linear_1.*) or a folder saved by jasper_tc."
    )


def _shorten(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)} in all)"


def release_backbone_config(**changes: Any):
    """A ``Qwen3Config`` of the release's backbone shape, with ``changes`` (fewer layers for a benchmark; a tiny
    hidden size for a test that runs the real code path); the weights are the caller's."""
    from transformers import Qwen3Config

    return Qwen3Config(**(RELEASE_BACKBONE | changes))
