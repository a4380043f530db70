"""Where a stage starts: a backbone turned into a student, or the previous stage's checkpoint.

Everything a stage can get wrong about its model (a compressor inserted twice, a schedule that
compresses a model without a compressor, an unknown prompt, a length past the backbone's positions)
is reported here, all together, before any data is read.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer

from ..configs import ConfigError
from ..model import JasperTCModel, build_student, configure_compression, insert_jasper_mlp
from ..model.weights import check_weight_files
from .config import TrainConfig
from .parameters import freeze_all_but, pattern_problems

__all__ = ["build_start", "disable_dropout"]


def disable_dropout(model) -> None:
    """Set every dropout probability to 0: modules, attention's stored rates, and the saved config."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        for key, value in list(vars(module).items()):
            if "dropout" in key and isinstance(value, float):
                setattr(module, key, 0.0)
    text_config = model.config.text_config
    for key in list(text_config.to_dict()):
        if "dropout" in key and isinstance(getattr(text_config, key, None), float):
            setattr(text_config, key, 0.0)


def build_start(config: TrainConfig, source: str = "config"):
    """The stage's starting model (fp32, train mode) and its tokenizer."""
    start = config.start
    folder = Path(start.backbone or start.checkpoint).expanduser()
    if folder.is_dir():
        check_weight_files(folder)  # a weight file cut short is named before anything loads it
    if start.backbone is not None:
        try:
            model, tokenizer = _build_student(config)
        except ValueError as error:  # e.g. identity linear_1 with another size, too many layers
            raise ConfigError(source, [f"start: {error}"]) from None
    else:
        model = JasperTCModel.from_pretrained(start.checkpoint)
        tokenizer = AutoTokenizer.from_pretrained(start.checkpoint)
        if start.insert_jasper_mlp:
            if model.jasper_mlp is not None:
                raise ConfigError(source, [f"start.insert_jasper_mlp: {start.checkpoint} already has a jasper_mlp"])
            insert_jasper_mlp(
                model,
                mlp_init=start.mlp_init,
                length_threshold=start.length_threshold,
                compression_ratio=start.default_compression_ratio,
                seed=config.seed,
            )
        if start.prompts is not None:
            model.config.prompts = dict(start.prompts)
    _configure_pool(model, start)
    if config.compression.schedule != "none" and not model.config.compression_trained:
        model.config.compression_trained = True  # a saved model then compresses by default
        if start.backbone is not None or start.insert_jasper_mlp or model.jasper_mlp is None:
            model.config.compression_ratio = start.default_compression_ratio
    model.float()
    if config.disable_dropout:
        disable_dropout(model)
    tokenizer.padding_side = model.config.padding_side
    _check_model(config, model, source)
    freeze_all_but(model, config.trainable)
    return model.train(), tokenizer


def _configure_pool(model: JasperTCModel, start) -> None:
    """Where and how the pool acts, as the stage asks; a model that gains a trained pool without a jasper_mlp
    gets the stage's default ratio (a model without either keeps 1.0)."""
    changes = {
        "after_layer": start.compress_after_layer, "keep_ends": start.compress_keep_ends,
        "positions": start.compress_positions, "pool": start.compress_pool, "windows": start.compress_windows,
    }  # fmt: skip
    if all(value is None for value in changes.values()):
        return
    configure_compression(model, **changes)
    if model.jasper_mlp is None:
        model.config.compression_ratio = start.default_compression_ratio


def _build_student(config: TrainConfig):
    start = config.start
    return build_student(
        start.backbone,
        start.embedding_dim,
        num_layers=start.num_layers,
        with_jasper_mlp=start.insert_jasper_mlp,
        mlp_init=start.mlp_init,
        linear_init=start.linear_init,
        length_threshold=start.length_threshold,
        compression_ratio=start.default_compression_ratio,
        prompts=start.prompts,
        seed=config.seed,
    )


def _check_model(config: TrainConfig, model: JasperTCModel, source: str) -> None:
    problems = []
    learner = model.jasper_mlp is not None or model.token_scorer is not None or model.config.compress_after_layer > 0
    if config.compression.schedule != "none" and not (learner or config.trainable is None):
        problems.append(
            f"compression.schedule: {config.compression.schedule!r} trains compression, but nothing that trains "
            "can learn it (set start.insert_jasper_mlp: true, start.compress_after_layer or "
            "start.compress_pool: scored, or let the backbone train: trainable: null)"
        )
    prompts = model.config.prompts or {}
    for key in ("query_prompt_name", "document_prompt_name"):
        name = getattr(config.data, key)
        if name is not None and config.data.triples is not None and name not in prompts:
            problems.append(f"data.{key}: the model has no prompt {name!r} (it has: {sorted(prompts) or 'none'})")
    problems += pattern_problems(model, config.trainable, config.optimizer.lr_by_pattern)
    limit = getattr(model.config.text_config, "max_position_embeddings", None)
    fit, threshold = config.compression.fit_positions, model.config.length_threshold
    if fit is not None and fit <= threshold:
        problems.append(f"compression.fit_positions: must exceed the model's threshold of {threshold}, got {fit}")
    if limit is not None and fit is not None and fit > limit:
        problems.append(f"compression.fit_positions: {fit} exceeds the backbone's {limit} positions")
    elif limit is not None and fit is None and config.data.max_length > limit:
        problems.append(
            f"data.max_length: {config.data.max_length} exceeds the backbone's {limit} positions "
            "(set compression.fit_positions to train on longer inputs compressed to fit)"
        )
    if problems:
        raise ConfigError(source, problems)


def load_token_teacher(path: str) -> JasperTCModel:
    """A frozen model whose uncompressed token states the ``token`` loss targets: a Jasper-TC checkpoint, or a
    backbone read as a mean-pooled student (``linear_1`` the identity; only its token states matter)."""
    from transformers import AutoConfig

    from ..model.builders import transformer_folder
    from ..model.release import is_jasper_config, read_config_json

    if is_jasper_config(read_config_json(path)):
        teacher = JasperTCModel.from_pretrained(path)
    else:
        hidden = AutoConfig.from_pretrained(transformer_folder(path)).hidden_size
        teacher, _ = build_student(path, hidden, linear_init="identity")
    return teacher.float().eval().requires_grad_(False)
