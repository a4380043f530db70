"""The report's claims tested at CPU scale: the runner of the study behind ``docs/reproduction.md``.

It runs the quickstart's life cycle at a larger size, then the runs the claims need beside it:
the stage-1 student under training-free pooling (what stage 2 must recover), a stage 3 trained at a
fixed ratio of 0.33 with the same budget as the dynamic one, each stage-3 variant once per seed, and
the speed of teacher and student. Every run is kept in the output folder and skipped when present,
so the study resumes where it stopped; ``results.json`` holds every figure the page shows (with the
machine and the stage-3 and stage-4 batches) and every claim's verdict, and ``page.write_document`` writes
the page from it alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import atomic_write_json
from ..phases import PhaseClock
from ..recipes import CHINESE_TASKS, LONG_TASKS, STUDY_RATIOS, evaluate, stage_config, stage_summary
from ..results import scores_by_task
from .claims import with_verdicts
from .design import FIXED_RATIO, stage3_run
from .lifecycle import SMOKE_SIZES, Plan, corpus_changes, run_lifecycle, train_stage
from .page import write_document

__all__ = ["Study", "full_study", "reproduce", "run_study", "smoke_study"]


@dataclass(frozen=True)
class Study:
    """A lifecycle plan plus what only the study runs: stage-3 seeds and the speed measurement."""

    plan: Plan
    seeds: tuple[int, ...] = (0, 1)  # each stage-3 variant is trained once per seed (seed 0 continues to stage 4)
    speed_documents: int = 96
    speed_lengths: tuple[int, ...] = (128, 256, 512)
    speed_batch_size: int = 8


def full_study(output: Path) -> Study:
    """The documented run: every paragraph and pair shipped, 256 tokens, about 110 minutes on 2 cores."""
    plan = Plan(
        output=output,
        paragraphs_per_language=2000,
        pairs=1200,
        max_length=256,
        batch_size=16,
        epochs_stage1=1.0,
        epochs_stage2=1.0,
        steps_stage3=100,
        steps_stage4=60,
        eval_limit=400,
        eval_tasks=(*LONG_TASKS, *CHINESE_TASKS),
        ratios=STUDY_RATIOS,
    )
    return Study(plan)


def smoke_study(output: Path) -> Study:
    """Every run of the study at the quickstart's smoke size (so it continues a smoke quickstart's folder)."""
    return Study(Plan(output=output, **SMOKE_SIZES), seeds=(0, 1), speed_documents=4, speed_lengths=(128,))


def run_study(study: Study, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every run of the study; write and return ``results.json``."""
    plan, out = study.plan, study.plan.output
    lifecycle = run_lifecycle(plan, say)  # data, teacher store, stages 1-4 (stage 3 dynamic, seed 0), 2 evaluations
    clock = PhaseClock(say)
    folders = {"teacher": out / "eval" / "teacher", "stage4": out / "eval" / "student"}
    labels = {"teacher": "teacher: all-MiniLM-L6-v2, training-free pooling", "stage4": "student: stage 4"}
    _stage3_variants(study, clock, labels, folders)
    with clock.phase("stage 2 at step 0: stage 1 + a new compressor MLP"):
        _stage2_start(plan)
    for stage, label in (
        ("stage1", "stage 1 + training-free pooling"),
        ("stage2-start", "stage 2 at step 0"),
        ("stage2", "stage 2"),
    ):
        labels[stage], folders[stage] = label, out / "eval" / stage
        with clock.phase(f"evaluate {stage}"):
            evaluate(out / stage / "model", label, folders[stage], plan.evaluation)
    with clock.phase("speed: teacher and student, long documents"):
        speed = _measure_speed(study)
    results = {
        "study": _describe(study),
        "labels": labels,
        "scores": {name: _scores(folder) for name, folder in folders.items()},
        "speed": speed,
        "timings_s": _keep_work_times(out / "results.json", {**lifecycle["timings_s"], **clock.timings}),
        "machine": _machine(),
        "stages": {stage: _stage_setup(out / stage) for stage in ("stage2", "stage3", "stage4")},
    }
    results = with_verdicts(results)
    atomic_write_json(out / "results.json", results)
    return results


def _stage3_variants(study: Study, clock: PhaseClock, labels: dict, folders: dict) -> None:
    """Each stage-3 variant (dynamic, fixed) per seed from the same stage-2 model, trained and evaluated."""
    plan, out = study.plan, study.plan.output
    stage2 = out / "stage2" / "model"
    for seed in study.seeds:
        for variant in ("dynamic", "fixed"):
            name = stage3_run(variant, seed)
            changes = {**corpus_changes(plan), "steps": plan.steps_stage3, "start.checkpoint": stage2}
            changes |= {"seed": seed, "compression.seed": seed}
            if variant == "fixed":
                changes |= {"compression.schedule": "fixed", "compression.ratio": FIXED_RATIO}
            if name != "stage3":  # seed-0 dynamic is the life cycle's own stage 3
                with clock.phase(f"stage 3, {variant} ratio, seed {seed}"):
                    train_stage(plan, "stage3", changes, name=name)
            labels[name] = f"stage 3 {variant}, seed {seed}"
            folders[name] = out / "eval" / name
            with clock.phase(f"evaluate {name}"):
                evaluate(out / name / "model", labels[name], folders[name], plan.evaluation)


def _stage2_start(plan: Plan) -> Path:
    """Stage 2's starting model, saved as is: what inserting the MLP costs before any training."""
    from ..training.checkpoints import write_model_folder
    from ..training.start import build_start

    final = plan.output / "stage2-start" / "model"
    if not (final / "model.safetensors").is_file():
        changes = {"output": final.parent, **corpus_changes(plan), "start.checkpoint": plan.output / "stage1" / "model"}
        model, tokenizer = build_start(stage_config(plan.recipe / "stage2.yaml", changes))
        write_model_folder(model.eval(), tokenizer, final)
    return final


def _keep_work_times(previous: Path, timings: dict[str, float]) -> dict[str, float]:
    """A resumed study skips finished runs in no time: keep the time of the call that did the work."""
    if previous.is_file():
        before = json.loads(previous.read_text(encoding="utf-8")).get("timings_s", {})
        timings = {name: max(seconds, before.get(name, 0.0)) for name, seconds in timings.items()}
    return timings


def _describe(study: Study) -> dict:
    described = asdict(study)
    described["plan"] = {k: v for k, v in described["plan"].items() if k != "output"}
    return json.loads(json.dumps(described, default=str))


def _machine() -> dict:
    """What the study ran on: every run of it is on the CPU, with torch's threads."""
    import torch

    return {"device": "cpu", "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def _stage_setup(run: Path) -> dict:
    """A training run's settings (batch, accumulation, loss weights, MLP start, learning rates), from its
    saved config; empty when the run has none (the page then leaves out what it would have said)."""
    if not (run / "config.yaml").is_file():
        return {}
    return stage_summary(run).to_dict()


def _scores(folder: Path) -> dict[str, dict[str, float | None]]:
    """``{task: {ratio: main score or None for a failed task}}`` of one evaluation folder."""
    from ..evaluation.suite import load_records

    return scores_by_task(load_records(folder)["results"])


def _measure_speed(study: Study) -> list[dict]:
    """ms per document, teacher and final student, at each length and ratio (kept in ``speed.json``)."""
    from ..encode import load
    from ..evaluation import report
    from ..evaluation.tasks import load_suite
    from ..resources import find_suite

    plan = study.plan
    path = plan.output / "speed.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    suite, data_root = load_suite(find_suite("local-bilingual"))
    documents = report.long_documents(data_root / suite.long_documents, study.speed_documents)
    lengths, ratios = list(study.speed_lengths), list(plan.ratios)
    rows = []
    for name, model in (("teacher", plan.teacher), ("student", str(plan.output / "stage4" / "model"))):
        encoder = load(model, device="cpu")
        encoder.backend.max_length = max(study.speed_lengths)  # measure past the default cut; within positions
        measured = report.measure_latency(encoder, documents, lengths, ratios, batch_size=study.speed_batch_size)
        rows += [row | {"model": name} for row in measured]
    atomic_write_json(path, rows)
    return rows


def reproduce(study: Study, document: Path, say: Callable[[str], None] = print) -> dict:
    """Run the study and write the page."""
    results = run_study(study, say)
    write_document(results, document)
    return results
