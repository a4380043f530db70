"""The report's four-stage life cycle at CPU scale: corpus -> teacher store -> stages 1-4 -> evaluation.

``jasper-tc quickstart --recipe four-stage`` runs it, and the claims study runs it larger. Every phase
is the project's own command run with the shipped CPU recipe (``configs/minilm-cpu/``) and overrides
that fit a small budget, so what it does is what a user would type. Each phase
leaves a finished artefact and is skipped when it is there already; the training stages resume from
their checkpoints; so an interrupted run, started again, goes on where it stopped.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write_bytes, atomic_write_json
from ..phases import PhaseClock
from ..recipes import RATIOS, SHORT_TASK, SMOKE_RATIOS, Evaluation, evaluate, run_stage
from ..resources import CONFIGS, DATA

__all__ = ["SMOKE_SIZES", "Plan", "corpus_changes", "run_lifecycle", "train_stage"]

SMOKE_SIZES = dict(  # every phase at toy size, a check that the whole run works (under a minute)
    paragraphs_per_language=40,
    pairs=16,
    max_length=64,
    batch_size=8,
    epochs_stage1=0.5,
    epochs_stage2=0.5,
    steps_stage3=2,
    steps_stage4=2,
    eval_limit=40,
    ratios=SMOKE_RATIOS,
    eval_tasks=(SHORT_TASK, "XQuAD-en"),
)


@dataclass(frozen=True)
class Plan:
    """Sizes of a lifecycle run; the defaults fit about ten minutes on 2 CPU cores."""

    output: Path
    paragraphs_per_language: int = 600
    pairs: int = 300
    max_length: int = 128
    batch_size: int = 16
    epochs_stage1: float = 1.0
    epochs_stage2: float = 1.0
    steps_stage3: int = 40
    steps_stage4: int = 30
    eval_limit: int = 150
    eval_tasks: tuple[str, ...] | None = None  # None: one task per type asked (no clustering, no bitext)
    ratios: tuple[float, ...] = RATIOS
    teacher: str = "sentence-transformers/all-MiniLM-L6-v2"
    # The student: None = all of the teacher's layers (a trained embedding model, as the report's student
    # is); k = only its first k layers (a smaller, faster student that stage 1 must first teach).
    student_layers: int | None = None

    @property
    def recipe(self) -> Path:
        return CONFIGS / "minilm-cpu"

    @property
    def evaluation(self) -> Evaluation:
        """The plan's tasks at its ratios, cut to its limit, on the CPU (the study runs there)."""
        return Evaluation(tasks=self.eval_tasks, ratios=self.ratios, limit=self.eval_limit, device="cpu")


def _write_subset(plan: Plan, folder: Path) -> tuple[Path, Path]:
    """The first N English and N Chinese paragraphs of the sample, and pairs whose paragraph is among them."""
    corpus, pairs = folder / "paragraphs.jsonl", folder / "pairs.jsonl"
    if corpus.is_file() and pairs.is_file():
        return corpus, pairs
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA / "quickstart" / "paragraphs.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    chosen = [r for r in rows if r["id"].startswith("wikien")][: plan.paragraphs_per_language]
    chosen += [r for r in rows if r["id"].startswith("wikizh")][: plan.paragraphs_per_language]
    texts = {r["text"] for r in chosen}
    with gzip.open(DATA / "quickstart" / "pairs.jsonl.gz", "rt", encoding="utf-8") as handle:
        candidates = [json.loads(line) for line in handle]
    english = [p for p in candidates if p["positive"] in texts and p["query"].isascii()]
    chinese = [p for p in candidates if p["positive"] in texts and not p["query"].isascii()]
    kept = english[: plan.pairs // 2] + chinese[: plan.pairs - plan.pairs // 2]
    _atomic_text(corpus, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen))
    _atomic_text(pairs, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in kept))
    return corpus, pairs


def _atomic_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _teach(config_file: Path, changes: dict) -> None:
    from ..configs import load_config, with_changes
    from ..teachers import TeachConfig, teach
    from ..teachers.config import check_teach_config

    config = with_changes(load_config(TeachConfig, config_file), changes, str(config_file))
    teach(check_teach_config(config, str(config_file)))


def _mine_triples(plan: Plan, pairs: Path, corpus: Path, triples: Path) -> None:
    """Stage 4's triples: each pair with 3 hard negatives mined by the teacher (kept if there already)."""
    if triples.is_file():
        return
    from ..encode import load
    from ..teachers.negatives import mine_negatives

    mine_negatives(load(plan.teacher, device="cpu"), pairs, corpus, triples, k=3)


def train_stage(plan: Plan, stage: str, changes: dict, name: str | None = None) -> Path:
    """Train ``configs/minilm-cpu/<stage>.yaml`` with typed ``changes`` into ``output/<name or stage>``; a
    finished stage is kept, a stopped one resumes (and a stop raises)."""
    return run_stage(plan.recipe / f"{stage}.yaml", {"output": plan.output / (name or stage), **changes})


def corpus_changes(plan: Plan) -> dict:
    """What points stages 1-3 at the plan's paragraphs, teacher store, length and batch."""
    out = plan.output
    return {
        "data.corpus.path": out / "data" / "paragraphs.jsonl",
        "data.teacher_store": out / "teachers" / "fused",
        "data.max_length": plan.max_length,
        "batch_size": plan.batch_size,
    }


def run_lifecycle(plan: Plan, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every phase; return the timings, the result table and where the files are.

    The body is the recipe's list of phases in order, one ``with clock.phase(...)`` each, kept in one
    place so that it reads as the recipe does.
    """
    from ..evaluation import report

    out = plan.output
    out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(say)
    corpus_data = corpus_changes(plan)
    teacher_length = {"teachers.0.encode.max_length": plan.max_length}
    triples = out / "triples.jsonl"

    with clock.phase("data: bilingual paragraph sample"):
        corpus, pairs = _write_subset(plan, out / "data")
    with clock.phase("teacher store (all-MiniLM-L6-v2)"):
        _teach(plan.recipe / "teach.yaml", {"corpus.path": corpus, "output": out / "teachers", **teacher_length})
    with clock.phase("stage 1: distill, no compression"):
        student = {} if plan.student_layers is None else {"start.num_layers": plan.student_layers}
        stage1 = train_stage(plan, "stage1", {**corpus_data, "epochs": plan.epochs_stage1, **student})
    with clock.phase("stage 2: insert the compressor, fixed ratio 0.33"):
        stage2 = train_stage(plan, "stage2", {**corpus_data, "epochs": plan.epochs_stage2, "start.checkpoint": stage1})
    with clock.phase("stage 3: ratios drawn per step, + Gram-matrix loss"):
        stage3 = train_stage(plan, "stage3", {**corpus_data, "steps": plan.steps_stage3, "start.checkpoint": stage2})
    with clock.phase("stage-4 triples: title -> paragraph, 3 teacher-mined hard negatives"):
        _mine_triples(plan, pairs, corpus, triples)
    with clock.phase("teacher vectors of the triples"):
        triples_store = {"corpus.path": triples, "output": out / "teachers-triples", **teacher_length}
        _teach(plan.recipe / "teach-triples.yaml", triples_store)
    with clock.phase("stage 4: InfoNCE + soft distillation + cosine on triples"):
        stage4_data = {"data.triples": triples, "data.teacher_store": out / "teachers-triples" / "fused"}
        stage4_data |= {"data.max_length": plan.max_length, "batch_size": plan.batch_size}
        stage4 = train_stage(plan, "stage4", {**stage4_data, "steps": plan.steps_stage4, "start.checkpoint": stage3})
    with clock.phase("evaluate the teacher (training-free compression)"):
        teacher_records = evaluate(plan.teacher, "teacher: all-MiniLM-L6-v2", out / "eval" / "teacher", plan.evaluation)
    with clock.phase("evaluate the student (stage 4)"):
        label = f"student: {plan.student_layers or 6} layers + jasper_mlp"
        student_records = evaluate(stage4, label, out / "eval" / "student", plan.evaluation)

    table = report.compare_runs(
        [{"results": teacher_records}, {"results": student_records}], out / "report"
    )  # comparison.md + comparison.png
    timings = clock.timings
    summary = {"timings_s": timings, "total_s": round(sum(timings.values()), 1), "model": str(stage4), "table": table}
    atomic_write_json(out / "summary.json", summary)
    _write_report(plan, summary)
    return summary


def _write_report(plan: Plan, summary: dict) -> None:
    """``report.md`` of the output folder: sizes, the quality table and plot, the time of each phase."""
    lines = [
        "# Quickstart report",
        "",
        "The Jasper-TC recipe at CPU scale: all-MiniLM-L6-v2 (6 layers) teaches a student made of "
        + ("all of it" if plan.student_layers is None else f"its first {plan.student_layers} layers"),
        "plus jasper_mlp and the token compressor, over a bilingual Wikipedia sample, through the four stages.",
        f"Sizes: {2 * plan.paragraphs_per_language} paragraphs, {plan.pairs} stage-4 pairs, {plan.max_length} tokens.",
        "",
        "## Quality against compression ratio (teacher compressed without training vs the trained student)",
        "",
        summary["table"],
        "",
        "![quality vs ratio](report/comparison.png)",
        "",
        "## Time per phase (seconds)",
        "",
        "| phase | s |",
        "|---|---:|",
        *(f"| {name} | {seconds} |" for name, seconds in summary["timings_s"].items()),
        f"| **total** | **{summary['total_s']}** |",
        "",
        f"The student: `{summary['model']}` (loads with `jasper_tc.load` and `SentenceTransformer`).",
        "",
    ]
    (plan.output / "report.md").write_text("\n".join(lines), encoding="utf-8")
