"""Stage constructors: a student from a backbone checkpoint, and the jasper_mlp inserted into it.

Stage 1 starts from a backbone with mean pooling and a new ``linear_1`` (:func:`build_student`);
stage 2 adds ``jasper_mlp`` in front of the pool and makes compression the default
(:func:`insert_jasper_mlp`). Training configs name these.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .compressor import LENGTH_THRESHOLD, check_ratio, check_threshold
from .config import JasperTCConfig
from .modeling import JasperTCModel, SwiGLU, compressor_for, drop_pooler
from .packaged import resolve_model

MlpInit = Literal["random", "identity", "residual"]

__all__ = [
    "MlpInit",
    "build_student",
    "configure_compression",
    "init_jasper_mlp",
    "insert_jasper_mlp",
    "keep_first_layers",
    "sentence_transformers_max_length",
    "transformer_folder",
]

# Where common backbones keep their stack of layers.
_LAYER_LISTS = ("layers", "encoder.layer", "encoder.layers", "transformer.layer", "h")


def transformer_folder(path: str | os.PathLike) -> str:
    """The folder holding the transformers weights of a plain or sentence-transformers checkpoint."""
    path = resolve_model(path)
    modules_file = Path(path) / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Transformer"):
                return str(Path(path) / module.get("path", ""))
    return str(path)


def sentence_transformers_max_length(path: str | os.PathLike) -> int | None:
    """The ``max_seq_length`` a sentence-transformers folder cuts inputs to, if it says one."""
    settings = Path(resolve_model(path)) / "sentence_bert_config.json"
    if not settings.is_file():
        return None
    return json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length")


def keep_first_layers(backbone: PreTrainedModel, num_layers: int) -> PreTrainedModel:
    """Drop all but the first ``num_layers`` layers of ``backbone`` in place (config updated too)."""
    for dotted in _LAYER_LISTS:
        owner: object = backbone
        for name in dotted.split("."):
            owner = getattr(owner, name, None)
        if isinstance(owner, nn.ModuleList):
            break
    else:
        raise ValueError(f"Cannot find the layer list of {type(backbone).__name__} (looked for {_LAYER_LISTS})")
    if not 1 <= num_layers <= len(owner):
        raise ValueError(f"num_layers must be between 1 and {len(owner)} for this backbone, got {num_layers}")
    del owner[num_layers:]
    backbone.config.num_hidden_layers = num_layers
    if isinstance(getattr(backbone.config, "layer_types", None), list):
        backbone.config.layer_types = backbone.config.layer_types[:num_layers]
    return backbone


def _init_linear_1(model: JasperTCModel, linear_init: str, hidden: int, embedding_dim: int) -> None:
    """Leave ``linear_1`` random, or make it the identity (which needs ``embedding_dim`` == hidden size)."""
    if linear_init == "identity":
        if embedding_dim != hidden:
            raise ValueError(
                f"linear_init='identity' needs embedding_dim == hidden size ({hidden}), got {embedding_dim}"
            )
        with torch.no_grad():
            model.linear_1.weight.copy_(torch.eye(hidden))
            model.linear_1.bias.zero_()
    elif linear_init != "random":
        raise ValueError(f"linear_init must be 'random' or 'identity', got {linear_init!r}")


def build_student(
    backbone: str | os.PathLike,
    embedding_dim: int = 2048,
    *,
    num_layers: int | None = None,
    with_jasper_mlp: bool = False,
    mlp_init: MlpInit = "random",
    linear_init: Literal["random", "identity"] = "random",
    length_threshold: int = LENGTH_THRESHOLD,
    compression_ratio: float = 0.5,
    prompts: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> tuple[JasperTCModel, PreTrainedTokenizerBase]:
    """A student from a transformers or sentence-transformers backbone checkpoint.

    The backbone keeps its weights (optionally only its first ``num_layers`` layers); pooling becomes
    the masked mean; ``linear_1`` to ``embedding_dim`` is new. Inputs are cut where the backbone's
    sentence-transformers settings cut them (else at its tokenizer's limit). ``with_jasper_mlp`` also inserts
    ``jasper_mlp`` (see :func:`insert_jasper_mlp`). ``linear_init="identity"`` (only when
    ``embedding_dim`` equals the backbone's hidden size) starts ``linear_1`` as the identity, so a
    student distilled from its own backbone's family starts from that backbone's embedding rather than
    a random projection of it. Returns the model and its tokenizer.
    """
    folder = transformer_folder(backbone)
    loaded = AutoModel.from_pretrained(folder, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if num_layers is not None:
        keep_first_layers(loaded, num_layers)
    config = JasperTCConfig(
        text_config=loaded.config,
        embedding_dim=embedding_dim,
        use_jasper_mlp=False,
        length_threshold=length_threshold,
        compression_ratio=check_ratio(compression_ratio),
        padding_side=tokenizer.padding_side,
        prompts=prompts,
        max_seq_length=min(
            sentence_transformers_max_length(backbone) or tokenizer.model_max_length,
            getattr(loaded.config, "max_position_embeddings", 1 << 30),
        ),
    )
    with torch.random.fork_rng(devices=[]):  # seed the new head without touching the caller's RNG
        torch.manual_seed(seed)
        model = JasperTCModel(config)
    model.model = drop_pooler(loaded)
    _init_linear_1(model, linear_init, loaded.config.hidden_size, embedding_dim)
    model.to(dtype)
    if with_jasper_mlp:
        insert_jasper_mlp(model, mlp_init=mlp_init, seed=seed)
    return model, tokenizer


def insert_jasper_mlp(
    model: JasperTCModel,
    *,
    mlp_init: MlpInit = "random",
    length_threshold: int | None = None,
    compression_ratio: float | None = None,
    seed: int = 0,
) -> JasperTCModel:
    """Add a new ``jasper_mlp`` and make compression the default, in place (stage 1 -> stage 2).

    ``compression_ratio`` becomes the model's default ratio; ``length_threshold`` the pool's threshold.
    ``mlp_init="residual"`` makes the MLP residual (``x + jasper_mlp(x)``) with its output projection at
    zero, so that the model at step 0 is the one it started from, pooled training-free.
    """
    if mlp_init not in get_args(MlpInit):
        raise ValueError(f"mlp_init must be one of {', '.join(get_args(MlpInit))}, got {mlp_init!r}")
    config = model.config
    threshold = config.length_threshold if length_threshold is None else length_threshold
    ratio = config.compression_ratio if compression_ratio is None else compression_ratio
    config.length_threshold, config.compression_ratio = check_threshold(threshold), check_ratio(ratio)
    compressor = compressor_for(config)
    config.use_jasper_mlp = True
    config.jasper_mlp_residual = mlp_init == "residual"
    reference = model.linear_1.weight
    mlp = SwiGLU(config.text_config.hidden_size, config.mlp_intermediate_size)
    mlp.to(device=reference.device, dtype=reference.dtype)
    model.jasper_mlp = mlp
    model.token_compressor = compressor
    init_jasper_mlp(model, mlp_init, seed=seed)
    return model


@torch.no_grad()
def init_jasper_mlp(model: JasperTCModel, method: MlpInit = "random", *, seed: int = 0, max_rows: int = 65536) -> float:
    """Initialise ``model.jasper_mlp``; return the mean cosine between each token embedding and its image.

    ``random``: normal weights (std = ``initializer_range``), as in the report; the backbone then
    has to learn to read the MLP's output. ``residual`` (for a residual MLP): normal gate and up
    projections and a zero ``down_proj``, so that ``x + jasper_mlp(x) = x`` at the start and every
    direction training moves in is open (the image then reported is that of ``x + jasper_mlp(x)``).
    ``identity``: random gate/up projections and a ``down_proj`` fitted by least squares so that the
    MLP maps each token embedding close to itself, so a small-scale run starts near the backbone's
    own inputs. The MLP only ever sees rows of the embedding table, so fitting on them is fitting on
    all its inputs. A bias-free SwiGLU is of order two near zero and cannot be the identity exactly:
    on all-MiniLM-L6-v2 (intermediate = 4x hidden) the fit reaches a mean cosine of about 0.84; a
    wider ``jasper_mlp_intermediate_size`` fits better.
    """
    mlp = model.jasper_mlp
    if mlp is None:
        raise ValueError("This model has no jasper_mlp; call insert_jasper_mlp first")
    if (method == "residual") != model.config.jasper_mlp_residual:
        kind = "residual" if model.config.jasper_mlp_residual else "plain"
        raise ValueError(f"mlp_init {method!r} does not fit a {kind} jasper_mlp")
    generator = torch.Generator().manual_seed(seed)
    table = model.get_input_embeddings().weight.detach().float().cpu()  # (V, H)
    if table.shape[0] > max_rows:
        table = table[torch.randperm(table.shape[0], generator=generator)[:max_rows]]
    hidden, inner = table.shape[1], mlp.gate_proj.out_features
    std = getattr(model.config.text_config, "initializer_range", 0.02)
    if method in ("random", "residual"):
        weights = [
            torch.randn(p.shape, generator=generator) * std
            for p in (mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight)
        ]
        if method == "residual":
            weights[2].zero_()
    elif method == "identity":
        scale = 8.0 / (table.norm(dim=1).mean().item() + 1e-12)  # the best of 0.5..32 on MiniLM
        gate = torch.randn(inner, hidden, generator=generator) * scale
        up = torch.randn(inner, hidden, generator=generator) * scale
        features = F.silu(table @ gate.T) * (table @ up.T)  # (V, I)
        ridge = 1e-4 * features.pow(2).mean() * torch.eye(inner)
        down = torch.linalg.solve(features.T @ features + ridge * table.shape[0], features.T @ table).T  # (H, I)
        weights = [gate, up, down]
    else:
        raise ValueError(f"mlp_init must be 'random', 'identity' or 'residual', got {method!r}")
    for param, value in zip((mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight), weights):
        param.copy_(value.to(dtype=param.dtype, device=param.device))
    rows = table.to(device=mlp.gate_proj.weight.device, dtype=mlp.gate_proj.weight.dtype)
    out = (rows + mlp(rows) if model.config.jasper_mlp_residual else mlp(rows)).float().cpu()
    return F.cosine_similarity(out, table, dim=1).mean().item()


def configure_compression(
    model: JasperTCModel,
    *,
    after_layer: int | None = None,
    keep_ends: int | None = None,
    positions: str | None = None,
    pool: str | None = None,
    windows: str | None = None,
) -> JasperTCModel:
    """Set where and how ``model`` pools (None: as it is), in place, checked like a saved config. A scorer
    added for ``pool="scored"`` starts at zero weights, so that the model at step 0 pools as before."""
    config = model.config
    changes = {"compress_after_layer": after_layer, "compress_keep_ends": keep_ends}
    changes |= {"compress_positions": positions, "compress_pool": pool, "compress_windows": windows}
    changes = {key: value for key, value in changes.items() if value is not None}
    JasperTCConfig(**{**config.to_dict(), **changes})  # every problem named before anything changes
    for key, value in changes.items():
        setattr(config, key, value)
    model.token_compressor = compressor_for(config)
    if config.compress_pool == "scored" and model.token_scorer is None:
        reference = model.linear_1.weight
        model.token_scorer = nn.Linear(config.text_config.hidden_size, 1, bias=False).to(reference.device)
        nn.init.zeros_(model.token_scorer.weight)
    elif config.compress_pool != "scored":
        model.token_scorer = None
    return model
