"""One way to run a training stage of a recipe: its YAML template, the user's ``key=value`` overrides, then
the recipe's own typed changes (where it starts, its data, its output), checked together; a finished stage
is kept, a stopped one resumes from its checkpoint, and a stop is raised, never passed on as a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ..configs import ConfigError, load_config, parse_config, with_changes
from ..training.checks import LOSS_TERMS
from ..training.config import TrainConfig, check_train_config
from ..training.loop import train
from ..training.precision import PRECISION_RECORD

__all__ = [
    "StageStopped", "StageSummary", "read_stage", "run_stage", "stage_config", "stage_summary", "summarize_stage",
]  # fmt: skip

MODEL = "model"  # a stage's output model folder, under its output


class StageStopped(KeyboardInterrupt):
    """A stage was asked to stop (Ctrl-C, SIGTERM) and saved a checkpoint; running the recipe again resumes it."""


def stage_config(template: Path, changes: Mapping[str, Any], overrides: Sequence[str] = ()) -> TrainConfig:
    """``template`` with the user's ``overrides`` (``key=value`` strings), then the recipe's ``changes``
    (typed values at dotted keys, e.g. ``{"start.checkpoint": path}``), checked as a whole.

    A user override of a key the recipe sets itself is an error naming both, never silently lost.
    """
    taken = sorted(o.partition("=")[0] for o in overrides if o.partition("=")[0] in changes)
    if taken:
        raise ConfigError(str(template), [f"{key}: set by the recipe itself; it cannot be overridden" for key in taken])
    config = load_config(TrainConfig, template, list(overrides))
    return check_train_config(with_changes(config, changes, str(template)), str(template))


def finished_model(output: str | Path) -> Path | None:
    """The model of a finished stage in ``output``, or None."""
    model = Path(output) / MODEL
    return model if (model / "model.safetensors").is_file() else None


def run_stage(template: Path, changes: Mapping[str, Any], overrides: Sequence[str] = ()) -> Path:
    """Train (or resume) the stage ``template`` describes, changed as :func:`stage_config` says, into
    ``changes["output"]``; a finished stage is kept as it is. Returns its model folder.

    Raises :class:`StageStopped` when the run was asked to stop before its last step.
    """
    output = Path(changes["output"])
    done = finished_model(output)
    if done is not None:
        return done
    result = train(stage_config(template, changes, overrides), resume=True)
    if result.stopped:
        where = f"{output} at step {result.step}/{result.total_steps}"
        raise StageStopped(f"stopped during stage {where}; run the same command again to continue")
    return result.model


def read_stage(output: str | Path) -> TrainConfig:
    """The config a stage ran with, as saved in its output (``config.yaml``), typed."""
    path = Path(output) / "config.yaml"
    return parse_config(TrainConfig, yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


@dataclass(frozen=True)
class StageSummary:
    """What a card or a page says of a stage: its length, batch, ratios, loss, learning rates, what trains."""

    steps: int | None
    epochs: float | None
    batch_size: int  # rows per process per forward
    accumulation: int  # forwards per optimizer step
    gradient_cache: bool
    compression: dict[str, Any]  # schedule, ratio, ranges, seed, fit_positions
    loss: dict[str, float]  # the weighted terms
    lr: float
    lr_by_pattern: dict[str, float] | None
    trainable: list[str] | None  # None: everything
    max_length: int
    mlp_init: str | None  # how a jasper_mlp inserted by this stage starts (None: none inserted)
    mixed_precision: str = "no"  # what it trained in ("auto" resolved, where the stage recorded it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_stage(config: TrainConfig) -> StageSummary:
    return StageSummary(
        steps=config.steps,
        epochs=config.epochs,
        batch_size=config.batch_size,
        accumulation=config.accumulation,
        gradient_cache=config.gradient_cache,
        compression=asdict(config.compression),
        loss={term: getattr(config.loss, term) for term in LOSS_TERMS if getattr(config.loss, term)},
        lr=config.optimizer.lr,
        lr_by_pattern=config.optimizer.lr_by_pattern,
        trainable=config.trainable,
        max_length=config.data.max_length,
        mlp_init=config.start.mlp_init if config.start.insert_jasper_mlp else None,
        mixed_precision=config.mixed_precision,
    )


def stage_summary(output: str | Path) -> StageSummary:
    """The summary of the stage that trained in ``output``, with the precision it resolved ``auto`` to."""
    summary = summarize_stage(read_stage(output))
    ran = Path(output) / PRECISION_RECORD
    if ran.is_file():
        summary = replace(summary, mixed_precision=json.loads(ran.read_text(encoding="utf-8"))["mixed_precision"])
    return summary
