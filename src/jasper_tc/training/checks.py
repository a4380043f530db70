"""The checks of a stage config that need no model and no data: each section's values, the files it
names, and the student's dimension against the teacher store's (read from their JSON files alone).

:func:`~jasper_tc.training.config.check_train_config` reports them all together; what needs the model
(prompts, patterns, positions) is checked in ``training.start``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..model import check_ratio, check_threshold
from .schedules import Ranges

# The loss terms a stage weighs (``LossConfig``'s weights).
LOSS_TERMS = ("cosine", "mse", "similarity", "info_nce", "soft_distillation", "token")

if TYPE_CHECKING:
    from .config import CompressionConfig, DataConfig, OptimizerConfig, StartConfig, TrainConfig

__all__ = ["train_config_problems"]


def train_config_problems(config: TrainConfig) -> list[str]:
    """Every problem of ``config`` found without a model or data, section by section."""
    return [
        *_start_problems(config.start),
        *_data_problems(config.data),
        *_loss_problems(config),
        *_compression_problems(config.compression),
        *_optimizer_problems(config.optimizer),
        *_length_problems(config),
        *_non_finite(config),
        *_dimension_problems(config),
    ]


def _is_local(path: str) -> bool:
    """A path meant to be on disk, rather than a hub id like ``org/name``."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", path) is None or path.startswith(".")


def _start_problems(start: StartConfig) -> list[str]:
    problems = []
    if (start.backbone is None) == (start.checkpoint is None):
        problems.append("start: give exactly one of backbone and checkpoint")
    for key in ("backbone", "checkpoint"):
        value = getattr(start, key)
        if value is not None and not Path(value).exists() and _is_local(value):
            problems.append(f"start.{key}: no such folder {value}")
    if start.checkpoint is not None:
        if start.linear_init != "random":
            problems.append("start.linear_init: only for a backbone start (a checkpoint has its linear_1)")
        if start.num_layers is not None:
            problems.append("start.num_layers: only for a backbone start")
        elif Path(start.checkpoint).is_dir() and not (Path(start.checkpoint) / "config.json").is_file():
            problems.append(f"start.checkpoint: {start.checkpoint} has no config.json")
    if start.num_layers is not None and start.num_layers < 1:
        problems.append(f"start.num_layers: must be at least 1, got {start.num_layers}")
    if start.embedding_dim < 1:
        problems.append(f"start.embedding_dim: must be at least 1, got {start.embedding_dim}")
    for check, key in ((check_threshold, "length_threshold"), (check_ratio, "default_compression_ratio")):
        try:
            check(getattr(start, key), f"start.{key}")
        except ValueError as error:
            problems.append(str(error))
    return problems


def _data_problems(data: DataConfig) -> list[str]:
    problems = []
    if (data.corpus is None) == (data.triples is None):
        problems.append("data: give exactly one of corpus (distillation texts) and triples (stage 4)")
    if data.corpus is not None and not Path(data.corpus.path).is_file():
        problems.append(f"data.corpus.path: no such file {data.corpus.path}")
    if data.corpus is not None and data.corpus.format != "texts":
        problems.append("data.corpus.format: must be 'texts'; give stage-4 triples as data.triples")
    if data.triples is not None and not Path(data.triples).is_file():
        problems.append(f"data.triples: no such file {data.triples}")
    if not (Path(data.teacher_store) / "manifest.json").is_file():
        problems.append(f"data.teacher_store: {data.teacher_store} is not a finished store (no manifest.json)")
    if data.max_length < 1:
        problems.append(f"data.max_length: must be at least 1, got {data.max_length}")
    if data.negatives < 0:
        problems.append(f"data.negatives: must be at least 0, got {data.negatives}")
    return problems


def _loss_problems(config: TrainConfig) -> list[str]:
    problems, loss, data = [], config.loss, config.data
    weights = {name: getattr(loss, name) for name in LOSS_TERMS}
    for name, weight in weights.items():
        if weight < 0:
            problems.append(f"loss.{name}: a weight must be at least 0, got {weight}")
    if not any(w > 0 for w in weights.values()):
        problems.append("loss: every weight is 0; give at least one loss term a weight")
    for name in ("info_nce", "soft_distillation"):
        if weights[name] > 0 and data.triples is None:
            problems.append(f"loss.{name}: needs queries and documents (data.triples)")
    if (weights["info_nce"] > 0 or weights["soft_distillation"] > 0) and data.negatives < 1 and config.batch_size < 2:
        problems.append("loss: InfoNCE with no negatives needs batch_size >= 2 (in-batch negatives)")
    if weights["token"] > 0 and data.token_teacher is None:
        problems.append("loss.token: needs data.token_teacher (the model whose uncompressed token states it targets)")
    if weights["token"] > 0 and (config.gradient_cache or data.triples is not None):
        problems.append("loss.token: works on distillation texts without gradient_cache")
    if data.token_teacher is not None and not Path(data.token_teacher).expanduser().is_dir():
        problems.append(f"data.token_teacher: no such folder {data.token_teacher}")
    for key in ("temperature", "alpha"):
        if getattr(loss, key) <= 0:
            problems.append(f"loss.{key}: must be above 0, got {getattr(loss, key)}")
    return problems


def _compression_problems(compression: CompressionConfig) -> list[str]:
    problems = []
    if compression.schedule == "fixed":
        if compression.ratio is None:
            problems.append("compression.ratio: required by schedule 'fixed'")
        else:
            try:
                check_ratio(compression.ratio, "compression.ratio")
            except ValueError as error:
                problems.append(str(error))
    elif compression.ratio is not None:
        problems.append(f"compression.ratio: only for schedule 'fixed', not {compression.schedule!r}")
    if compression.schedule == "ranges":
        if not compression.ranges or any(len(piece) != 3 for piece in compression.ranges):
            problems.append("compression.ranges: required by schedule 'ranges', as [probability, low, high] pieces")
        else:
            try:
                Ranges(tuple(tuple(piece) for piece in compression.ranges))
            except ValueError as error:
                problems.append(f"compression.ranges: {error}")
    elif compression.ranges is not None:
        problems.append(f"compression.ranges: only for schedule 'ranges', not {compression.schedule!r}")
    return problems


def _optimizer_problems(optimizer: OptimizerConfig) -> list[str]:
    problems = []
    if optimizer.lr <= 0:
        problems.append(f"optimizer.lr: must be above 0, got {optimizer.lr}")
    if not 0 <= optimizer.warmup < 1:
        problems.append(f"optimizer.warmup: a fraction of the steps in [0, 1), got {optimizer.warmup}")
    if len(optimizer.betas) != 2 or not all(0 <= b < 1 for b in optimizer.betas):
        problems.append(f"optimizer.betas: two numbers in [0, 1), got {optimizer.betas}")
    if optimizer.max_grad_norm is not None and optimizer.max_grad_norm <= 0:
        problems.append(f"optimizer.max_grad_norm: must be above 0 (or null), got {optimizer.max_grad_norm}")
    if optimizer.eps <= 0:
        problems.append(f"optimizer.eps: must be above 0, got {optimizer.eps}")
    for pattern, rate in (optimizer.lr_by_pattern or {}).items():
        if rate <= 0:
            problems.append(f"optimizer.lr_by_pattern.{pattern}: must be above 0, got {rate}")
    return problems


def _length_problems(config: TrainConfig) -> list[str]:
    """How long the run is, how big its batches are, and how often it checkpoints."""
    problems = []
    if (config.epochs is None) == (config.steps is None):
        problems.append("give exactly one of epochs and steps")
    if config.epochs is not None and config.epochs <= 0:
        problems.append(f"epochs: must be above 0, got {config.epochs}")
    if config.steps is not None and config.steps < 1:
        problems.append(f"steps: must be at least 1, got {config.steps}")
    for key in ("batch_size", "accumulation", "log_every"):
        if getattr(config, key) < 1:
            problems.append(f"{key}: must be at least 1, got {getattr(config, key)}")
    if config.checkpoint.every < 0:
        problems.append(f"checkpoint.every: must be at least 0, got {config.checkpoint.every}")
    if config.checkpoint.keep_last < 1:
        problems.append(f"checkpoint.keep_last: must be at least 1, got {config.checkpoint.keep_last}")
    return problems


def _non_finite(value, where: str = "") -> list[str]:
    """NaN or infinity anywhere in the config (they pass every ``x <= 0`` check and poison training)."""
    if dataclasses.is_dataclass(value):
        return [
            problem
            for f in dataclasses.fields(value)
            for problem in _non_finite(getattr(value, f.name), f"{where}.{f.name}" if where else f.name)
        ]
    if isinstance(value, (list, tuple)):
        return [p for i, item in enumerate(value) for p in _non_finite(item, f"{where}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}: must be a finite number, got {value}"]
    if isinstance(value, dict):
        return [p for k, item in value.items() for p in _non_finite(item, f"{where}.{k}")]
    return []


def _dimension_problems(config: TrainConfig) -> list[str]:
    """The student's embedding size against the teacher store's, read from their JSON files alone."""
    manifest = Path(config.data.teacher_store) / "manifest.json"
    if not manifest.is_file():
        return []
    teacher = json.loads(manifest.read_text(encoding="utf-8")).get("dimension")
    student, where = config.start.embedding_dim, "start.embedding_dim"
    model_config = Path(config.start.checkpoint or "") / "config.json"
    if config.start.checkpoint is not None:
        if not model_config.is_file():
            return []
        raw = json.loads(model_config.read_text(encoding="utf-8"))
        student = raw.get("embedding_dim", raw.get("projection_dim"))
        where = f"the checkpoint {config.start.checkpoint}"
    if student is not None and teacher is not None and student != teacher:
        return [
            f"data.teacher_store: its vectors are {teacher}-d but {where} embeds into {student} dims; "
            "the student must embed into the teacher store's dimension"
        ]
    return []
