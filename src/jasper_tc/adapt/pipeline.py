"""``jasper-tc adapt``: any mean-pooled embedding model made compression-ready, phase by phase.

The model embeds the training texts at ratio 1 (its own teacher, the existing store); the model itself
learns to read the pool (nothing is added in front of it, so that at step 0 it *is* the original pooled
training-free; ``--design base`` puts the earlier recipe's residual ``jasper_mlp`` there instead); one
stage trains at a fixed ratio, one at ratios drawn per step (Algorithm 2). Then the original and the
adapted model are evaluated at every ratio on tasks no stage trained on, and the model card says what
was measured. Every phase leaves a finished artefact and is skipped when it is there; the stages resume
from their checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..atomic import atomic_write_json
from ..phases import PhaseClock
from ..recipes.evaluation import evaluate
from ..recipes.scales import SHORT_TASK
from ..recipes.stages import stage_summary
from .designs import DEFAULT, saved_design
from .plan import LONG_STAGES, STAGES, AdaptPlan, split_overrides
from .source import SourceModel, inspect_source
from .stages import teacher_store, train_stages
from .texts import write_long_texts, write_training_texts

__all__ = ["run_adapt"]


def run_adapt(plan: AdaptPlan, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every phase; return the summary written to ``OUTPUT/summary.json``.

    The body is the recipe's list of phases, one ``with clock.phase(...)`` each, kept in one place so
    that it reads as the recipe does.
    """
    from .card import kept_shares, write_card
    from .measure import check_student_is_original, closeness_and_speed

    overrides = split_overrides(plan.overrides)
    out = plan.output
    out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(say)
    with clock.phase("the model: mean-pooled, rebuilt as a Jasper-TC student without loss"):
        source = inspect_source(plan.model)
        check_student_is_original(source, out / "data" / "student-check.json")
    with clock.phase("training texts: the corpus and short texts from it"):
        counts = write_training_texts(plan, out / "data" / "texts.jsonl")
    with clock.phase("teacher store: the model itself at ratio 1"):
        data = {"texts": out / "data" / "texts.jsonl"}
        data["store"] = teacher_store(plan, source, data["texts"], out / "teacher", overrides["teach"])
    with clock.phase("train: at a fixed ratio, then at ratios drawn per step"):
        model = train_stages(plan, source, data, out / "train", overrides)
    if plan.long_documents:
        model = _long_stage(plan, source, clock, overrides, model)
    with clock.phase("evaluate the original, pooled training-free"):
        original = evaluate(source.path, "original", out / "eval" / "original", plan.evaluation)
    with clock.phase("evaluate the adapted model"):
        adapted = evaluate(model, "adapted", out / "eval" / "adapted", plan.evaluation)
    with clock.phase("closeness to the original, and speed"):
        measured = closeness_and_speed(plan, source, model, out / "eval" / "closeness.json")
    with clock.phase("the model and its card"):
        summary = {
            "model": plan.model,
            "corpus": str(plan.corpus),
            "texts": counts,
            "max_length": plan.max_length,
            "ratios": list(plan.ratios),
            "stages": {
                stage: stage_summary(out / "train" / stage).to_dict()
                for stage in (*STAGES, *(LONG_STAGES if plan.long_documents else ()))
            },
            "results": {"original": original, "adapted": adapted},
            "kept_pct": kept_shares({"original": original, "adapted": adapted}, list(plan.ratios)),
            "short_task": SHORT_TASK,
            "jasper_mlp": bool(saved_design(model)["use_jasper_mlp"]),
            **measured,
            **plan.extra,
            "design": plan.extra.get("design") or DEFAULT,
            "timings_s": dict(clock.timings),
        }
        final = write_card(plan, source, model, summary)
    summary["timings_s"] = dict(clock.timings)
    summary["output_model"] = str(final)
    atomic_write_json(out / "summary.json", summary)
    return summary


def _long_stage(plan: AdaptPlan, source: SourceModel, clock: PhaseClock, overrides: dict, model: Path) -> Path:
    """Whole long texts, then texts up to a segment: the original's chunk-and-mean embedding of each, and a
    stage trained towards each in turn (``long.yaml`` as ``fit`` reads, ``segments.yaml`` as ``segments``)."""
    out = plan.output
    sets = {"long": (plan.long_groups, plan.long_texts), "segments": (plan.segment_groups, plan.segment_texts)}
    data = {stage: {"texts": out / "data" / f"{stage}.jsonl"} for stage in LONG_STAGES}
    with clock.phase("long texts: consecutive training texts joined"):
        for stage, (groups, count) in sets.items():
            write_long_texts(out / "data" / "texts.jsonl", data[stage]["texts"], groups, count)
    with clock.phase("teacher store of the long texts: the original, chunk and mean"):
        for stage, paths in data.items():
            folder = out / f"teacher-{stage}"
            paths["store"] = teacher_store(plan, source, paths["texts"], folder, overrides["teach-long"], "teach-long")
    whole = replace(plan, max_length=None)  # each stage reads past the window by its own data.max_length
    with clock.phase("train long: whole texts compressed to fit the window"):
        model = train_stages(whole, source, data["long"], out / "train", overrides, ("long",), model)
    with clock.phase("train segments: texts up to a segment, compressed to fit half the window"):
        return train_stages(whole, source, data["segments"], out / "train", overrides, ("segments",), model)
