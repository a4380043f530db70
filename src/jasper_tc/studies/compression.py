"""The compression-training study: what makes training the compressor lose quality, and what fixes it.

One row per run, all evaluated the same way (the long-text English retrieval tasks at 256 tokens, one
of them held out from every training corpus, and STS-B for the short side), at every ratio. Every
run starts from all-MiniLM-L6-v2 as its own teacher, through ``adapt``'s recipe (``configs/adapt/``),
with one thing changed: what trains, how the MLP starts, the data, the learning rate, the loss, or the
stages. Runs are kept in the output folder and skipped when present, so the study resumes;
``results.json`` holds every figure, and ``compression_page.write_page`` writes the page from it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..adapt import AdaptPlan, inspect_source, split_overrides
from ..adapt.designs import EARLIER
from ..adapt.stages import teacher_store, train_stages
from ..adapt.texts import write_training_texts
from ..atomic import atomic_write_json, atomic_write_text
from ..phases import PhaseClock
from ..recipes import LONG_TASKS, RATIOS, SHORT_TASK, evaluate, stage_summary
from ..results import Verdict, scores_by_task, share
from .quickstart import english_paragraphs

__all__ = ["VARIANTS", "Variant", "judge", "run_compression_study", "with_verdicts", "write_page"]

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LAST_LAYERS = ["jasper_mlp.*", "model.encoder.layer.4.*", "model.encoder.layer.5.*"]
UNIFORM_RATIOS = [[0.2, 1.0, 1.0], [0.2, 0.5, 0.5], [0.2, 0.33333, 0.33333], [0.2, 0.2, 0.2], [0.2, 0.1, 0.1]]
PACKED_TEXTS, PACKED_GROUP = 1000, 3


@dataclass(frozen=True)
class Variant:
    """One run: the base recipe with ``overrides`` (adapt's ``fixed.`` / ``dynamic.`` / ``stages.`` keys)."""

    name: str
    group: str  # the question it answers
    change: str  # what differs from the base run, in words
    overrides: tuple[str, ...] = ()
    stages: tuple[str, ...] = ("fixed", "dynamic")
    corpus: str = "sample"  # "sample" (shipped), "packed" (sample + joined paragraphs) or "large" (--large-corpus)
    seed: int = 0


VARIANTS = (
    Variant("base", "base", "everything trains (backbone 2e-5, MLP 1e-3), residual MLP at zero, cosine"),
    Variant("seed1", "base", "the base run with seed 1 (how far seeds land apart)", ("stages.seed=1",), seed=1),
    Variant("mlp-only", "what trains", "only the new MLP", ("stages.trainable=[jasper_mlp.*]",)),
    Variant("mlp-linear", "what trains", "the MLP and linear_1", ("stages.trainable=[jasper_mlp.*, linear_1.*]",)),
    Variant("mlp-last2", "what trains", "the MLP and the last 2 of 6 layers", (f"stages.trainable={LAST_LAYERS}",)),
    Variant(
        "all-1e-4", "what trains", "everything at one lr of 1e-4 (the old stage 2)",
        ("stages.optimizer.lr=1.0e-4", "stages.optimizer.lr_by_pattern=null"),
    ),
    Variant(
        "start-identity", "the MLP's start", "a plain MLP fitted near the identity (the old recipe)",
        ("fixed.start.mlp_init=identity",),
    ),
    Variant("start-random", "the MLP's start", "a plain MLP at random (the report)", ("fixed.start.mlp_init=random",)),
    Variant("large", "data", "20,000 English paragraphs instead of 2,000", corpus="large"),
    Variant("lr-5e-5", "learning rate", "backbone at 5e-5", ("stages.optimizer.lr=5.0e-5",)),
    Variant("lr-1e-5", "learning rate", "backbone at 1e-5", ("stages.optimizer.lr=1.0e-5",)),
    Variant("mlp-lr-3e-4", "learning rate", "MLP at 3e-4", ("stages.optimizer.lr_by_pattern={jasper_mlp.*: 3.0e-4}",)),
    Variant("gram", "loss", "+ Gram matrix (similarity 100)", ("stages.loss.similarity=100",)),
    Variant("mse", "loss", "+ MSE of the raw vectors (weight 1)", ("stages.loss.mse=1",)),
    Variant(
        "fixed-only", "stages", "stage 2 alone: fixed ratio 0.33 for all 300 steps", ("fixed.steps=300",),
        stages=("fixed",),
    ),
    Variant(
        "dynamic-only", "stages", "Algorithm 2 from the first step, 300 steps",
        ("fixed.steps=300", "fixed.compression.schedule=algorithm2", "fixed.compression.ratio=null"),
        stages=("fixed",),
    ),
    Variant(
        "ratios-uniform", "ratio schedule",
        "stage 2 of 2 draws 1, 0.5, 0.33, 0.2 or 0.1 alike (Algorithm 2: 10% of steps below 0.33)",
        ("dynamic.compression.schedule=ranges", f"dynamic.compression.ranges={UNIFORM_RATIOS}"),
    ),
    Variant(
        "packed", "data", "+ 1,000 texts of 3 consecutive paragraphs (longer texts, where the pool acts more)",
        corpus="packed",
    ),
    Variant("budget-x3", "budget", "three times the steps (300 + 600)", ("fixed.steps=300", "dynamic.steps=600")),
)  # fmt: skip


@dataclass(frozen=True)
class CompressionStudy:
    output: Path
    large_corpus: Path | None = None  # English paragraphs (.jsonl, "text"); its runs are skipped without it
    paragraphs: int = 2000  # English paragraphs of the shipped sample
    large_paragraphs: int = 20000
    variants: tuple[Variant, ...] = VARIANTS
    base_overrides: tuple[str, ...] = ("fixed.steps=100", "dynamic.steps=200")
    recipe: tuple[str, ...] = EARLIER  # the recipe its questions are about (the frontier's designs carry their own)
    eval_limit: int | None = None
    ratios: tuple[float, ...] = RATIOS
    extra: dict = field(default_factory=dict)


def _packed(sample: Path, path: Path) -> Path:
    """The sample, then texts of ``PACKED_GROUP`` consecutive paragraphs joined: longer training texts."""
    if not path.is_file():
        rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines()]
        joined = []
        for j in range(PACKED_TEXTS):
            start = (j * PACKED_GROUP) % len(rows)
            parts = rows[start : start + PACKED_GROUP]
            joined.append({"id": f"packed-{j}", "text": "\n".join(r["text"] for r in parts)})
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [*rows, *joined]))
    return path


def _corpus(study: CompressionStudy, key: str) -> Path:
    sample = english_paragraphs(study.paragraphs, study.output / "corpora" / "sample.jsonl")
    if key == "packed":
        return _packed(sample, study.output / "corpora" / "packed.jsonl")
    return sample if key == "sample" else study.large_corpus


def run_compression_study(study: CompressionStudy, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every variant; write and return ``results.json``."""
    out = study.output
    out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(say)
    source = inspect_source(MODEL)
    base = AdaptPlan(MODEL, Path(), out, ratios=study.ratios, eval_limit=study.eval_limit, dtype=None)
    with clock.phase("evaluate the original, pooled training-free"):
        original = evaluate(source.path, "original", out / "eval" / "original", base.evaluation)
    runs, data = {}, {}
    for variant in study.variants:
        if variant.corpus == "large" and study.large_corpus is None:
            say(f"== {variant.name}: skipped (no --large-corpus)")
            continue
        if variant.corpus not in data:
            with clock.phase(f"training texts and teacher store: {variant.corpus} corpus"):
                data[variant.corpus] = _data(study, base, source, variant.corpus)
        with clock.phase(f"run {variant.name}: {variant.change}"):
            runs[variant.name] = _run(study, base, source, variant, data[variant.corpus])
    results = {
        "study": {k: v for k, v in asdict(study).items() if k not in ("output", "variants")} | {"model": MODEL},
        "variants": [asdict(v) for v in study.variants],
        "original": original,
        "runs": runs,
        "timings_s": dict(clock.timings),
        "machine": {"cpu_count": os.cpu_count()},
    }
    results["study"]["large_corpus"] = str(study.large_corpus) if study.large_corpus else None
    results = with_verdicts(results)
    atomic_write_json(out / "results.json", results)
    return results


# The studies run in fp32, as their committed figures were measured (adapt's own recipe probes the machine).
FP32_TEACHER, FP32_STAGES = "teachers.0.dtype=null", "stages.mixed_precision='no'"  # quoted: YAML reads no as false


def _data(study: CompressionStudy, base: AdaptPlan, source, key: str) -> dict:
    folder = study.output / "data" / key
    limit = {"sample": study.paragraphs, "packed": study.paragraphs + PACKED_TEXTS}.get(key, study.large_paragraphs)
    plan = replace(base, corpus=_corpus(study, key), max_texts=limit)
    counts = write_training_texts(plan, folder / "texts.jsonl")
    store = teacher_store(plan, source, folder / "texts.jsonl", folder / "teacher", [FP32_TEACHER])
    return {"texts": folder / "texts.jsonl", "store": store, "counts": counts}


def _run(study: CompressionStudy, base: AdaptPlan, source, variant: Variant, data: dict) -> dict:
    """Train a variant's stages (kept if done) and evaluate its model; the record of the run."""
    folder = study.output / "runs" / variant.name
    record_file = folder / "record.json"
    if record_file.is_file():
        return _evaluated_at(json.loads(record_file.read_text(encoding="utf-8")), study.output, variant, base)
    overrides = split_overrides([FP32_STAGES, *study.recipe, *study.base_overrides, *variant.overrides])
    started = time.perf_counter()
    model = train_stages(base, source, data, folder, overrides, variant.stages)
    train_s = round(time.perf_counter() - started, 1)
    record = {
        "train_s": train_s,
        "texts": data["counts"],
        "stages": {stage: stage_summary(folder / stage).to_dict() for stage in variant.stages},
        "results": evaluate(model, variant.name, folder / "eval", base.evaluation),
    }
    atomic_write_json(record_file, record)
    return record


def trained_model(output: Path, variant: Variant) -> Path:
    """Where a study's run of ``variant`` keeps its trained model: its last stage's."""
    return output / "runs" / variant.name / variant.stages[-1] / "model"


def _evaluated_at(record: dict, output: Path, variant: Variant, base: AdaptPlan) -> dict:
    """A kept run at the study's ratios: a trained model asked at ratios it was not measured at is evaluated
    again (its training, and the time it took, stay as they were)."""
    measured = {r["compression_ratio"] for r in record["results"]}
    if measured == set(base.evaluation.ratios):
        return record
    folder = output / "runs" / variant.name
    results = evaluate(trained_model(output, variant), variant.name, folder / "eval", base.evaluation)
    record = record | {"results": results}
    atomic_write_json(folder / "record.json", record)
    return record


def kept_shares(results: dict) -> dict[str, float]:
    """Per run: its long-task score as a share of the original's ratio-1 score, averaged over the ratios
    below 1 (in %): the one figure each question is judged on."""
    original = scores_by_task(results["original"])
    low = [r for r in results["study"]["ratios"] if r < 1]
    kept = {}
    for name, run in results["runs"].items():
        scores = scores_by_task(run["results"])
        kept[name] = sum(share(scores, original, r, LONG_TASKS) for r in low) / len(low)
    return kept


def judge(results: dict) -> list[Verdict]:
    """Per question: is any of its runs above the base run by more than twice the seed spread (one pair of
    seeds is a lower bound of the noise)? Empty when the base run is missing."""
    kept = kept_shares(results)
    if "base" not in kept:
        return []
    group_of = {v["name"]: v["group"] for v in results["variants"]}
    groups: dict[str, list[str]] = {}
    for name in kept:
        groups.setdefault(group_of[name], []).append(name)
    spread = max(abs(kept[n] - kept["base"]) for n in groups.get("base", ["base"]))
    verdicts = []
    for group, names in groups.items():
        if group != "base":
            above = [n for n in names if kept[n] > kept["base"] + 2 * spread]
            figures = {"kept_pct": {n: kept[n] for n in names}, "base_pct": kept["base"], "seed_spread": spread}
            verdicts.append(Verdict(group, bool(above), figures | {"above_base": above}))
    return verdicts


def with_verdicts(results: dict) -> dict:
    """``results`` with each question's verdict (an older results file gets them now)."""
    judged = {"long_tasks": list(LONG_TASKS), "short_task": SHORT_TASK}
    return results | {"judged": judged, "verdicts": [v.to_dict() for v in judge(results)]}


def write_page(results: dict, page: Path) -> dict:
    """The study's page from ``results`` alone, judged first if they were written before verdicts were."""
    from ..pages.compression import write_compression_page

    judged = with_verdicts(results)
    write_compression_page(judged, page)
    return judged
