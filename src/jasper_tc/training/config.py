"""The ``jasper-tc train`` config: one stage of the recipe, as data.

A stage says where it starts from, what it reads, which losses it weighs, how it compresses, and how
it optimises. ``configs/jasper-600m/stage{1,2,3,4}.yaml`` are the report's four stages;
``configs/minilm-cpu/`` the same recipe at CPU scale. Everything that can be checked without
computing is checked by :func:`check_train_config` (the checks themselves are ``training.checks``),
and all problems are reported together.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Literal

from ..configs import ConfigError, load_config
from ..corpus import CorpusConfig
from ..model import LENGTH_THRESHOLD
from .checks import train_config_problems
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
    # Where and how the pool acts (None: as the model has it; all off is the release's pool): the hidden
    # states after backbone layer k, tokens kept out at each end, positions kept, a scored (weighted) pool.
    compress_after_layer: int | None = None
    compress_keep_ends: int | None = None
    compress_positions: Literal["renumber", "keep"] | None = None
    compress_pool: Literal["mean", "scored", "merge"] | None = None  # merge: windows chosen by the text
    compress_windows: Literal["overlapping", "disjoint"] | None = None  # disjoint: each token in one window


@dataclass(frozen=True)
class DataConfig:
    # The teacher store the student is distilled towards (a ``jasper-tc teach`` output folder, e.g. .../fused).
    teacher_store: str
    # "texts": the corpus the store was built from, row by row; "triples": a stage-4 triples file whose
    # every text the store holds by id (``teach`` with ``corpus.format: triples``).
    corpus: CorpusConfig | None = None
    triples: str | None = None
    # The ``token`` loss term's teacher: a model folder (a Jasper-TC checkpoint, or the backbone the student
    # was built from, read as a mean-pooled student) whose uncompressed token states are the targets.
    token_teacher: str | None = None
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
    # Token level (not in the report): each of the student's compressed last-layer token states towards
    # ``data.token_teacher``'s ratio-1 states pooled by the same windows (1 - cosine, mean over tokens).
    token: float = 0.0
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
    # "auto": bf16 autocast where a probe measures it faster here (a GPU with bf16; a CPU with bf16 units),
    # else fp32; see ``training.precision``.
    mixed_precision: Literal["no", "bf16", "fp16", "auto"] = "no"
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


def ratio_schedule(compression: CompressionConfig) -> RatioSchedule:
    if compression.schedule == "fixed":
        return Fixed(compression.ratio)
    if compression.schedule == "algorithm2":
        return Algorithm2(compression.seed)
    if compression.schedule == "ranges":
        return Ranges(tuple(tuple(piece) for piece in compression.ranges), seed=compression.seed)
    return NoCompression()


def check_train_config(config: TrainConfig, source: str) -> TrainConfig:
    """Cross-field checks that need no model and no data (``training.checks``); all reported together."""
    problems = train_config_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_train_config(path: str | os.PathLike, overrides: list[str] | None = None) -> TrainConfig:
    return check_train_config(load_config(TrainConfig, path, overrides), str(path))
