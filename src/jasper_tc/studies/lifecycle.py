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
from ..resources import CONFIGS, DATA, find_suite

__all__ = [
    "LIFECYCLE_RATIOS",
    "SMOKE_SIZES",
    "Plan",
    "corpus_overrides",
    "evaluate_model",
    "run_lifecycle",
    "train_stage",
]

LIFECYCLE_RATIOS = (1.0, 0.5, 0.33, 0.2, 0.1)
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
    ratios=(1.0, 0.33),
    eval_tasks=("STSB-en", "XQuAD-en"),
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
    ratios: tuple[float, ...] = LIFECYCLE_RATIOS
    teacher: str = "sentence-transformers/all-MiniLM-L6-v2"
    # The student: None = all of the teacher's layers (a trained embedding model, as the report's student
    # is); k = only its first k layers (a smaller, faster student that stage 1 must first teach).
    student_layers: int | None = None

    @property
    def recipe(self) -> Path:
        return CONFIGS / "minilm-cpu"


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


def _teach(config_file: Path, overrides: list[str]) -> None:
    from ..teachers import load_teach_config, teach

    teach(load_teach_config(config_file, overrides))


def _mine_triples(plan: Plan, pairs: Path, corpus: Path, triples: Path) -> None:
    """Stage 4's triples: each pair with 3 hard negatives mined by the teacher (kept if there already)."""
    if triples.is_file():
        return
    from ..encode import load
    from ..teachers.negatives import mine_negatives

    mine_negatives(load(plan.teacher, device="cpu"), pairs, corpus, triples, k=3)


def train_stage(plan: Plan, stage: str, overrides: list[str], name: str | None = None) -> Path:
    """Train ``configs/minilm-cpu/<stage>.yaml`` with ``overrides`` into ``output/<name or stage>``; resumable."""
    from ..training import load_train_config, train

    output = plan.output / (name or stage)
    if (output / "model" / "model.safetensors").is_file():
        return output / "model"
    config = load_train_config(plan.recipe / f"{stage}.yaml", [f"output={output}", *overrides])
    return train(config, resume=True).model


def evaluate_model(plan: Plan, name: str, model: str, folder: Path, *, prompts: bool = False) -> list[dict]:
    """The plan's tasks at the plan's ratios, cut to its limits; kept in ``folder`` and read back if there."""
    from ..encode import load
    from ..evaluation import report
    from ..evaluation.suite import TaskFailures, failed_tasks, load_records, run_suite
    from ..evaluation.tasks import load_suite, select_tasks

    if (folder / "summary.json").is_file():
        records = load_records(folder)["results"]
        if not failed_tasks(records):
            return records  # a run with failures is done again
    suite, data_root = load_suite(find_suite("local-bilingual"))
    # None: every task but clustering and bitext (the full suite has them all: `jasper-tc eval`)
    names = plan.eval_tasks or [t.name for t in suite.tasks if t.type not in ("clustering", "bitext")]
    suite = select_tasks(suite, names, limit=plan.eval_limit, prompts=prompts)
    encoder = load(model, device="cpu")
    records = run_suite(encoder, suite, data_root, list(plan.ratios), folder, model_name=name)
    (folder / "table.md").write_text(report.results_table(records), encoding="utf-8")
    if failed := failed_tasks(records):
        raise TaskFailures(failed)
    return records


def corpus_overrides(plan: Plan) -> list[str]:
    """The overrides that point stages 1-3 at the plan's paragraphs, teacher store, length and batch."""
    out = plan.output
    return [
        f"data.corpus.path={out / 'data' / 'paragraphs.jsonl'}",
        f"data.teacher_store={out / 'teachers' / 'fused'}",
        f"data.max_length={plan.max_length}",
        f"batch_size={plan.batch_size}",
    ]


def run_lifecycle(plan: Plan, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every phase; return the timings, the result table and where the files are.

    The body is the recipe's list of phases in order, one ``with clock.phase(...)`` each, kept in one
    place so that it reads as the recipe does.
    """
    from ..evaluation import report

    out = plan.output
    out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(say)
    corpus_data = corpus_overrides(plan)
    teacher_length = f"teachers.0.encode.max_length={plan.max_length}"
    triples = out / "triples.jsonl"

    with clock.phase("data: bilingual paragraph sample"):
        corpus, pairs = _write_subset(plan, out / "data")
    with clock.phase("teacher store (all-MiniLM-L6-v2)"):
        _teach(plan.recipe / "teach.yaml", [f"corpus.path={corpus}", f"output={out / 'teachers'}", teacher_length])
    with clock.phase("stage 1: distill, no compression"):
        student = [] if plan.student_layers is None else [f"start.num_layers={plan.student_layers}"]
        stage1 = train_stage(plan, "stage1", [*corpus_data, f"epochs={plan.epochs_stage1}", *student])
    with clock.phase("stage 2: insert the compressor, fixed ratio 0.33"):
        stage2 = train_stage(
            plan, "stage2", [*corpus_data, f"epochs={plan.epochs_stage2}", f"start.checkpoint={stage1}"]
        )
    with clock.phase("stage 3: ratios drawn per step, + Gram-matrix loss"):
        stage3 = train_stage(plan, "stage3", [*corpus_data, f"steps={plan.steps_stage3}", f"start.checkpoint={stage2}"])
    with clock.phase("stage-4 triples: title -> paragraph, 3 teacher-mined hard negatives"):
        _mine_triples(plan, pairs, corpus, triples)
    with clock.phase("teacher vectors of the triples"):
        triples_store = [f"corpus.path={triples}", f"output={out / 'teachers-triples'}", teacher_length]
        _teach(plan.recipe / "teach-triples.yaml", triples_store)
    with clock.phase("stage 4: InfoNCE + soft distillation + cosine on triples"):
        stage4_data = [f"data.triples={triples}", f"data.teacher_store={out / 'teachers-triples' / 'fused'}"]
        stage4_data += [f"data.max_length={plan.max_length}", f"batch_size={plan.batch_size}"]
        stage4 = train_stage(plan, "stage4", [*stage4_data, f"steps={plan.steps_stage4}", f"start.checkpoint={stage3}"])
    with clock.phase("evaluate the teacher (training-free compression)"):
        teacher_records = evaluate_model(plan, "teacher: all-MiniLM-L6-v2", plan.teacher, out / "eval" / "teacher")
    with clock.phase("evaluate the student (stage 4)"):
        label = f"student: {plan.student_layers or 6} layers + jasper_mlp"
        student_records = evaluate_model(plan, label, str(stage4), out / "eval" / "student")

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
