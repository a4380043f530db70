"""The ``jasper-tc train`` config: one stage of the recipe, as data.

A stage says where it starts from, what it reads, which losses it weighs, how it compresses, and how
it optimises. ``configs/jasper-600m/stage{1,2,3,4}.yaml`` are the report's four stages;
``configs/minilm-cpu/`` the same recipe at CPU scale. Everything that can be checked without
computing is checked by :func:`check_train_config`, and all problems are reported together.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..configs import ConfigError, load_config
from ..corpus import CorpusConfig
from ..model import LENGTH_THRESHOLD, check_ratio, check_threshold
from .schedules import Algorithm2, Fixed, NoCompression, Ranges, RatioSchedule

__all__ = [
    "CheckpointConfig",
    "CompressionConfig",
    "DataConfig",
    "LossConfig",
    "OptimizerConfig",
    "StartConfig",
    "TrainConfig",
    "check_train_config",
    "load_train_config",
    "ratio_schedule",
]


@dataclass(frozen=True)
class StartConfig:
    # Exactly one of: a backbone (transformers or sentence-transformers folder, or hub id) that gets
    # mean pooling and a new linear_1; or a jasper-tc checkpoint (the previous stage's output).
    backbone: str | None = None
    checkpoint: str | None = None
    # Backbone only: keep only its first k layers (a smaller student); the output size of linear_1.
    num_layers: int | None = None
    embedding_dim: int = 2048
    # Backbone only: linear_1 random (the report) or the identity (needs embedding_dim == hidden size).
    linear_init: Literal["random", "identity"] = "random"
    # Add a new jasper_mlp in front of the pool (stage 2), the pool's threshold, and the ratio the saved
    # model uses when a call gives none (the training ratios are ``compression``'s).
    insert_jasper_mlp: bool = False
    # random (the report), identity (least-squares near-identity), residual (x + MLP(x), output at zero)
    mlp_init: Literal["random", "identity", "residual"] = "random"
    length_threshold: int = LENGTH_THRESHOLD
    default_compression_ratio: float = 0.33333
    # Prompts saved into the model (name -> text); None keeps the defaults / the checkpoint's.
    prompts: dict[str, str] | None = None


@dataclass(frozen=True)
class DataConfig:
    # The teacher store the student is distilled towards (a ``jasper-tc teach`` output folder, e.g. .../fused).
    teacher_store: str
    # "texts": the corpus the store was built from, row by row; "triples": a stage-4 triples file whose
    # every text the store holds by id (``teach`` with ``corpus.format: triples``).
    corpus: CorpusConfig | None = None
    triples: str | None = None
    # Tokens per text fed to the student (the report: 1030).
    max_length: int = 1030
    # Triples: hard negatives per query (K); triples with fewer are skipped and counted.
    negatives: int = 3
    # Prompts (names in the model's prompts) for queries and documents; None = no prompt.
    query_prompt_name: str | None = "query"
    document_prompt_name: str | None = None


@dataclass(frozen=True)
class LossConfig:
    # Weights; a term with weight 0 is not computed. The report: stage 1-2 cosine 10; stage 3 adds
    # similarity 100; stage 4 info_nce 1, soft_distillation 16, cosine 10. ``mse`` (not in the report):
    # squared distance of the raw vectors, which also pulls the student's norm to the teacher's.
    cosine: float = 0.0
    mse: float = 0.0
    similarity: float = 0.0
    info_nce: float = 0.0
    soft_distillation: float = 0.0
    temperature: float = 0.3  # InfoNCE's tau
    alpha: float = 0.1  # soft distillation's temperature


@dataclass(frozen=True)
class CompressionConfig:
    # none | fixed (ratio) | algorithm2 (the report's stage-3 sampler) | ranges ([probability, low, high] pieces)
    schedule: Literal["none", "fixed", "algorithm2", "ranges"] = "none"
    ratio: float | None = None
    ranges: list[list[float]] | None = None
    seed: int = 0
    # Long inputs: each input longer than this many tokens is compressed further, by the largest ratio
    # that brings it within this many positions. Set it to the backbone's window (or less) and
    # data.max_length up to k times beyond it to train on inputs as long_inputs="fit" reads them.
    fit_positions: int | None = None


@dataclass(frozen=True)
class OptimizerConfig:
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    # Warmup as a fraction of all steps (the report: 0.005), then the schedule (transformers' names).
    warmup: float = 0.0
    schedule: Literal["cosine", "linear", "constant_with_warmup"] = "cosine"
    # Clip the global gradient norm; None: no clipping.
    max_grad_norm: float | None = 1.0
    # Learning rate by parameter-name pattern, the first match winning (e.g. {"jasper_mlp.*": 1.0e-3}:
    # a new module learns faster than the pretrained backbone); other parameters use lr.
    lr_by_pattern: dict[str, float] | None = None


@dataclass(frozen=True)
class CheckpointConfig:
    # Save every N optimizer steps (0: only at the end) and keep the last k checkpoints.
    every: int = 0
    keep_last: int = 2


@dataclass(frozen=True)
class TrainConfig:
    # Everything a run writes goes here: checkpoints/, model/ (the stage's output), log.jsonl, tensorboard/.
    output: str
    start: StartConfig
    data: DataConfig
    loss: LossConfig
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    compression: CompressionConfig = field(default_factory=CompressionConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    # Length: exactly one of epochs (over the data) and steps (optimizer steps).
    epochs: float | None = None
    steps: int | None = None
    # Rows (texts, or queries for triples) per process per forward, and micro-batches per optimizer step.
    batch_size: int = 4
    accumulation: int = 1
    # Take the interacting losses (similarity, InfoNCE, soft) over the whole optimizer-step batch
    # (gradient cache) instead of over each micro-batch; see ``training.objective``.
    gradient_cache: bool = False
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    # Turn every dropout of the model off (Qwen3 has none; BERT-like students train faster without).
    disable_dropout: bool = False
    # Parameter-name patterns (fnmatch) of what trains, e.g. ["jasper_mlp.*", "linear_1.*"]; the rest is
    # frozen. None: everything trains. See ``training.parameters``.
    trainable: list[str] | None = None
    seed: int = 0
    log_every: int = 1
    tensorboard: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """What must not change under ``--resume`` (everything but checkpointing and logging)."""
        kept = {k: v for k, v in self.to_dict().items() if k not in ("checkpoint", "log_every", "tensorboard")}
        return json.dumps(kept, sort_keys=True)


def _is_local(path: str) -> bool:
    """A path meant to be on disk, rather than a hub id like ``org/name``."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", path) is None or path.startswith(".")


def check_train_config(config: TrainConfig, source: str) -> TrainConfig:
    """Cross-field checks that need no model and no data, section by section; all reported together."""
    problems = [
        *_start_problems(config.start),
        *_data_problems(config.data),
        *_loss_problems(config),
        *_compression_problems(config.compression),
        *_optimizer_problems(config.optimizer),
        *_length_problems(config),
        *_non_finite(config),
        *_dimension_problems(config),
    ]
    if problems:
        raise ConfigError(source, problems)
    return config


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
    weights = {name: getattr(loss, name) for name in ("cosine", "mse", "similarity", "info_nce", "soft_distillation")}
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


def ratio_schedule(compression: CompressionConfig) -> RatioSchedule:
    if compression.schedule == "fixed":
        return Fixed(compression.ratio)
    if compression.schedule == "algorithm2":
        return Algorithm2(compression.seed)
    if compression.schedule == "ranges":
        return Ranges(tuple(tuple(piece) for piece in compression.ranges), seed=compression.seed)
    return NoCompression()


# Stage keys renamed in this release; the old names are read, with a warning, until the next one.
RENAMED_KEYS = {
    "start.insert_compressor": "start.insert_jasper_mlp",
    "start.compression_ratio": "start.default_compression_ratio",
}


def load_train_config(path: str | os.PathLike, overrides: list[str] | None = None) -> TrainConfig:
    return check_train_config(load_config(TrainConfig, path, overrides, RENAMED_KEYS), str(path))
