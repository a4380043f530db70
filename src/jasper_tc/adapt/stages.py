"""``adapt``'s stages as typed configs: the teacher store (the model embedding its own training texts) and
the training stages of ``configs/adapt/``, each its YAML template with the user's overrides and then what
adapt fills in -- the model, the data, the length, the output -- run by the recipes' one stage runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..configs import load_config, with_changes
from ..recipes.stages import run_stage
from ..teachers import TeachConfig, teach
from ..teachers.config import check_teach_config
from .plan import STAGES, AdaptPlan
from .source import SourceModel

__all__ = ["StageData", "stage_changes", "teacher_store", "train_stages"]

StageData = dict[str, Path]  # "texts": the training texts, "store": their teacher vectors


def teacher_store(
    plan: AdaptPlan, source: SourceModel, texts: Path, folder: Path, overrides: list[str], recipe: str = "teach"
) -> Path:
    """The model's own ratio-1 embedding of every training text (resumable, see ``teachers``)."""
    template = plan.recipe / f"{recipe}.yaml"
    config = load_config(TeachConfig, template, overrides)
    changes: dict[str, Any] = {"corpus.path": texts, "output": folder, "teachers.0.model": source.path}
    if recipe == "teach":  # the long store reads past the window by its own max_length
        changes["teachers.0.encode.max_length"] = plan.max_length or source.max_length or 512
    teach(check_teach_config(with_changes(config, changes, str(template)), str(template)))
    return folder / "fused"


def stage_changes(plan: AdaptPlan, source: SourceModel, output: Path, start: Path | None, data: StageData) -> dict:
    """What adapt fills into a stage template: where it starts (the model itself, rebuilt, for the first
    stage; the previous stage's model after that), the data, the length and the output."""
    changes: dict[str, Any] = {"output": output, "data.teacher_store": data["store"], "data.corpus.path": data["texts"]}
    changes["data.token_teacher"] = source.path  # the token-level term's target, when a stage weighs it
    if plan.max_length is not None:
        changes["data.max_length"] = plan.max_length
    if start is None:
        changes["start.backbone"] = source.path
        changes["start.embedding_dim"] = source.hidden_size
        changes["start.prompts"] = {"query": "", "document": "", **source.prompts}
    else:
        changes["start.checkpoint"] = start
    return changes


def train_stages(
    plan: AdaptPlan,
    source: SourceModel,
    data: StageData,
    folder: Path,
    overrides: dict[str, list[str]],
    stages: tuple[str, ...] = STAGES,
    start: Path | None = None,
) -> Path:
    """Each stage template in turn (``fixed.yaml``, ``dynamic.yaml``), the first from the model itself (or
    ``start``), each later one from the one before; a finished stage is kept, a stopped one resumes."""
    model = start
    for stage in stages:
        changes = stage_changes(plan, source, folder / stage, model, data)
        model = run_stage(plan.recipe / f"{stage}.yaml", changes, overrides.get(stage, []))
    return model
