"""``jasper-tc adapt``: any mean-pooled embedding model made compression-ready, phase by phase.

The model embeds the training texts at ratio 1 (its own teacher, the existing store); a residual
``jasper_mlp`` whose output starts at zero goes in front of the pool, so that the model at step 0 *is*
the original pooled training-free; one stage trains at a fixed ratio, one at ratios drawn per step
(Algorithm 2). Then the original and the adapted model are evaluated at every ratio on tasks no stage
trained on, and the model card says what was measured. Every phase leaves a finished artefact and is
skipped when it is there; the stages resume from their checkpoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..atomic import atomic_write_json, atomic_write_text
from ..corpus import iter_records
from ..phases import PhaseClock
from ..resources import CONFIGS
from .source import SourceModel, inspect_source

__all__ = [
    "ADAPT_RATIOS",
    "EVAL_TASKS",
    "SMOKE",
    "SMOKE_OVERRIDES",
    "AdaptPlan",
    "run_adapt",
    "split_overrides",
    "stage_settings",
    "teacher_store",
    "train_stages",
    "write_training_texts",
]

ADAPT_RATIOS = (1.0, 0.5, 0.33, 0.2, 0.1)
# English retrieval over documents longer than the threshold (where the ratio acts; one of them held out
# from every training corpus of the project), and short-text similarity (the MLP sees queries too).
EVAL_TASKS = ("XQuAD-en", "Wiki-title2article-en", "STSB-en")
STAGES = ("fixed", "dynamic")
# Every phase at toy size: a check that the whole run works, in about a minute.
SMOKE = {"max_texts": 40, "eval_limit": 20, "ratios": (1.0, 0.33)}
SMOKE_OVERRIDES = (
    *("stages.steps=2", "stages.batch_size=4", "stages.checkpoint.every=0"),
    *("long.steps=2", "long.batch_size=2", "long.checkpoint.every=0", "long.data.max_length=1024"),
    "teach-long.teachers.0.encode.max_length=1024",
)
_OVERRIDE_TARGETS = ("teach", "fixed", "dynamic", "stages", "long", "teach-long")


@dataclass(frozen=True)
class AdaptPlan:
    """What to adapt, on which texts, where to; the recipe's own choices live in its YAML files."""

    model: str
    corpus: Path
    output: Path
    text_field: str = "text"
    max_texts: int | None = None  # the first N records of the corpus (None: all)
    short_share: float = 0.25  # every 1/share-th document also gives its first sentence as a short text
    max_length: int | None = 256  # tokens per text, in training and evaluation (None: the model's limit)
    recipe: Path = CONFIGS / "adapt"  # teach.yaml, fixed.yaml, dynamic.yaml
    overrides: tuple[str, ...] = ()  # "fixed.steps=50", "stages.batch_size=8", "teach.shard_rows=1024"
    eval_tasks: tuple[str, ...] = EVAL_TASKS
    eval_limit: int | None = None  # queries / pairs per task (None: as the suite has them)
    ratios: tuple[float, ...] = ADAPT_RATIOS
    device: str | None = None
    # A third stage for documents past the window: texts of ``long_group`` consecutive corpus texts, read
    # whole (long.yaml's data.max_length) and compressed to fit, towards the original's chunk-and-mean.
    long_documents: bool = False
    long_texts: int = 200
    long_group: int = 20  # about 2,500 tokens of Wikipedia paragraphs
    extra: dict = field(default_factory=dict)  # recorded in the summary as given (e.g. the scale)


def split_overrides(overrides: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """``teach.X=v`` / ``fixed.X=v`` / ``dynamic.X=v`` / ``stages.X=v`` (both stages) by target."""
    routed: dict[str, list[str]] = {"teach": [], "fixed": [], "dynamic": [], "long": [], "teach-long": []}
    for override in overrides:
        target, _, rest = override.partition(".")
        if target not in _OVERRIDE_TARGETS or not rest or "=" not in rest:
            raise ValueError(
                f"override {override!r}: write TARGET.KEY=VALUE with TARGET one of {', '.join(_OVERRIDE_TARGETS)}"
            )
        for name in STAGES if target == "stages" else (target,):
            routed[name].append(rest)
    return routed


def _first_sentence(text: str) -> str | None:
    match = re.match(r"(.{20,300}?[.!?。！？])(\s|$)", text.strip(), flags=re.S)
    return match.group(1).strip() if match else None


def write_training_texts(plan: AdaptPlan, path: Path) -> dict[str, int]:
    """The corpus's texts, plus the first sentence of every 1/``short_share``-th one (short texts: the MLP
    transforms queries too, so it must learn to leave them as they were); ids are fresh and unique."""
    if path.is_file():
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    documents, short, seen = [], [], set()
    every = round(1 / plan.short_share) if plan.short_share > 0 else 0
    for i, (_, text) in enumerate(iter_records(plan.corpus, plan.text_field)):
        if plan.max_texts is not None and i >= plan.max_texts:
            break
        if text in seen:
            continue
        seen.add(text)
        documents.append(text)
        sentence = _first_sentence(text) if every and i % every == 0 else None
        if sentence and sentence not in seen:
            seen.add(sentence)
            short.append(sentence)
    if not documents:
        raise ValueError(f"{plan.corpus}: no texts")
    rows = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(documents)]
    rows += [{"id": f"short-{i}", "text": t} for i, t in enumerate(short)]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts = {"documents": len(documents), "short_texts": len(short)}
    atomic_write_json(path.with_suffix(".json"), counts)
    return counts


def teacher_store(
    plan: AdaptPlan, source: SourceModel, texts: Path, folder: Path, overrides: list[str], recipe: str = "teach"
) -> Path:
    """The model's own ratio-1 embedding of every training text (resumable, see ``teachers``)."""
    from ..teachers import load_teach_config, teach

    filled = [f"corpus.path={texts}", f"output={folder}", f"teachers.0.model={source.path}"]
    if recipe == "teach":
        filled.append(f"teachers.0.encode.max_length={plan.max_length or source.max_length or 512}")
    teach(load_teach_config(plan.recipe / f"{recipe}.yaml", [*filled, *overrides]))
    return folder / "fused"


def write_long_texts(plan: AdaptPlan, texts: Path, path: Path) -> int:
    """Up to ``long_texts`` texts of ``long_group`` consecutive training documents joined (windows that
    overlap by half, so none repeats): long inputs to train on."""
    if not path.is_file():
        rows = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines()]
        documents = [r["text"] for r in rows if r["id"].startswith("doc-")]
        step = max(1, plan.long_group // 2)
        starts = range(0, max(1, len(documents) - plan.long_group + 1), step)
        joined = ["\n".join(documents[start : start + plan.long_group]) for start in starts][: plan.long_texts]
        lines = (
            json.dumps({"id": f"long-{j}", "text": text}, ensure_ascii=False) + "\n" for j, text in enumerate(joined)
        )
        atomic_write_text(path, "".join(lines))
    return sum(1 for _ in path.open(encoding="utf-8"))


def _stage_overrides(plan: AdaptPlan, source: SourceModel, output: Path, start: Path | None, data: dict) -> list[str]:
    """What adapt fills into a stage template: where it starts (the model itself, rebuilt, for the first
    stage; the previous stage's model after that), the data, the length and the output."""
    filled = [f"output={output}", f"data.teacher_store={data['store']}", f"data.corpus.path={data['texts']}"]
    if plan.max_length is not None:
        filled.append(f"data.max_length={plan.max_length}")
    if start is None:
        prompts = {"query": "", "document": "", **source.prompts}
        filled += [f"start.backbone={source.path}", f"start.embedding_dim={source.hidden_size}"]
        filled.append("start.prompts=" + yaml.safe_dump(prompts, default_flow_style=True, width=10**6).strip())
    else:
        filled.append(f"start.checkpoint={start}")
    return filled


def train_stages(
    plan: AdaptPlan,
    source: SourceModel,
    data: dict,
    folder: Path,
    overrides: dict[str, list[str]],
    stages: tuple[str, ...] = STAGES,
    start: Path | None = None,
) -> Path:
    """Each stage template in turn (``fixed.yaml``, ``dynamic.yaml``), the first from the model itself (or
    ``start``), each later one from the one before; a finished stage is kept, a stopped one resumes."""
    from ..training import load_train_config, train

    model = start
    for stage in stages:
        output = folder / stage
        if not (output / "model" / "model.safetensors").is_file():
            filled = _stage_overrides(plan, source, output, model, data)
            config = load_train_config(plan.recipe / f"{stage}.yaml", [*filled, *overrides.get(stage, [])])
            result = train(config, resume=True)
            if result.stopped:
                raise KeyboardInterrupt(f"stopped during stage {stage}; run again to continue")
        model = output / "model"
    return model


def run_adapt(plan: AdaptPlan, say: Callable[[str], None] = print) -> dict:
    """Run (or resume) every phase; return the summary written to ``OUTPUT/summary.json``.

    The body is the recipe's list of phases, one ``with clock.phase(...)`` each, kept in one place so
    that it reads as the recipe does.
    """
    from .card import write_card
    from .measure import check_student_is_original, closeness_and_speed, evaluate

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
    with clock.phase("train: a residual jasper_mlp, at a fixed ratio, then at ratios drawn per step"):
        model = train_stages(plan, source, data, out / "train", overrides)
    if plan.long_documents:
        model = _long_stage(plan, source, clock, overrides, model)
    with clock.phase("evaluate the original, pooled training-free"):
        original = evaluate(plan, source.path, "original", out / "eval" / "original")
    with clock.phase("evaluate the adapted model"):
        adapted = evaluate(plan, str(model), "adapted", out / "eval" / "adapted")
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
                stage: stage_settings(out / "train" / stage)
                for stage in (*STAGES, *(("long",) if plan.long_documents else ()))
            },
            "results": {"original": original, "adapted": adapted},
            **measured,
            **plan.extra,
            "timings_s": dict(clock.timings),
        }
        final = write_card(plan, source, model, summary)
    summary["timings_s"] = dict(clock.timings)
    summary["output_model"] = str(final)
    atomic_write_json(out / "summary.json", summary)
    return summary


def _long_stage(plan: AdaptPlan, source: SourceModel, clock: PhaseClock, overrides: dict, model: Path) -> Path:
    """Long texts, the original's chunk-and-mean embedding of each, and the stage trained towards it."""
    out = plan.output
    with clock.phase("long texts: consecutive training texts joined"):
        long = {"texts": out / "data" / "long.jsonl"}
        write_long_texts(plan, out / "data" / "texts.jsonl", long["texts"])
    with clock.phase("teacher store of the long texts: the original, chunk and mean"):
        long["store"] = teacher_store(
            plan, source, long["texts"], out / "teacher-long", overrides["teach-long"], "teach-long"
        )
    with clock.phase("train long: whole texts compressed to fit the window"):
        return train_stages(replace(plan, max_length=None), source, long, out / "train", overrides, ("long",), model)


def stage_settings(folder: Path) -> dict:
    """The settings a stage ran with, read back from its ``config.yaml``, for the card."""
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    optimizer = config["optimizer"]
    return {
        "steps": config["steps"],
        "batch_size": config["batch_size"] * config["accumulation"],
        "compression": config["compression"],
        "loss": {k: v for k, v in config["loss"].items() if k in ("cosine", "mse", "similarity") and v},
        "lr": optimizer["lr"],
        "lr_by_pattern": optimizer.get("lr_by_pattern"),
        "trainable": config.get("trainable"),
        "max_length": config["data"]["max_length"],
    }
