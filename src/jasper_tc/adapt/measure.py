"""What ``adapt`` measures: that the rebuilt student is the original, quality per ratio on tasks no stage
trained on, how close the adapted model stays to the original on short and long texts, and speed."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..resources import DATA, find_suite
from .source import SourceModel, UnsupportedModel

__all__ = ["check_student_is_original", "closeness_and_speed"]

_PROBE_TEXTS = [
    "what is token compression?",
    "A paragraph long enough to be compressed. " * 40,
    "Les modèles de plongement transforment un texte en vecteur.",
]


def _encoder(model: str, plan, max_length: int | None):
    from ..encode import EncodeOptions, load

    encoder = load(model, device=plan.device, dtype=plan.dtype)
    encoder.check(EncodeOptions(max_length=max_length))  # an error naming the limit, if the model has fewer positions
    return encoder


def check_student_is_original(source: SourceModel, record: Path, min_cosine: float = 0.9999) -> float:
    """Build the student adapt trains (its backbone, mean pooling, identity ``linear_1``) and check that it
    embeds like the original at ratio 1 before anything trains; refuse the model otherwise."""
    if record.is_file():
        return json.loads(record.read_text(encoding="utf-8"))["cosine"]
    import torch

    from ..encode import load
    from ..encode.backends import JasperBackend
    from ..encode.encoder import Encoder
    from ..model import build_student

    student, tokenizer = build_student(source.path, source.hidden_size, linear_init="identity")
    ours = Encoder(JasperBackend(student.eval(), tokenizer)).encode(_PROBE_TEXTS, compression_ratio=1.0)
    theirs = load(source.path, device="cpu").encode(_PROBE_TEXTS, compression_ratio=1.0)
    cosine = float(np.min(np.sum(ours * theirs, axis=1)))
    del student
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    if cosine < min_cosine:
        raise UnsupportedModel(
            f"{source.name}: rebuilt with mean pooling it embeds differently from the original (cosine {cosine:.4f} "
            f"< {min_cosine}); its pooling or normalisation is not one adapt can keep"
        )
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record, {"cosine": cosine})
    return cosine


def _suite(plan):
    from ..evaluation.tasks import load_suite, select_tasks

    evaluation = plan.evaluation
    suite, root = load_suite(find_suite(evaluation.suite))
    return select_tasks(suite, list(evaluation.tasks), limit=evaluation.limit, prompts=evaluation.prompts), root


def _closeness_texts(plan) -> tuple[list[str], list[str]]:
    """Short texts (queries) and documents of the evaluation tasks, none of which any stage trained on
    (200 of each per task at most; the suite is already cut to the plan's ``eval_limit``)."""
    from ..evaluation.tasks import load_task

    suite, root = _suite(plan)
    short, long = [], []
    for task in suite.tasks:
        if task.type == "retrieval":
            loaded = load_task(task, root)
            short += loaded.texts["queries"][:200]
            long += loaded.texts["documents"][:200]
    return short, long


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, axis=1)))


def closeness_and_speed(plan, source: SourceModel, adapted: Path, record: Path) -> dict:
    """Mean cosine to the original's ratio-1 embedding, short and long texts, per ratio, adapted and
    training-free; and ms per document at the plan's length, per ratio. Kept in ``record`` while it
    describes the same two models and the same evaluation."""
    from ..recipes import model_fingerprint

    models = {"original": model_fingerprint(source.path), "adapted": model_fingerprint(adapted)}
    about = {"models": models, "evaluation": plan.evaluation.stamp()}
    if record.is_file():
        kept = json.loads(record.read_text(encoding="utf-8"))
        if kept.pop("measured", None) == about:
            return kept
    from ..evaluation.report import long_documents, measure_latency

    short, long = _closeness_texts(plan)
    original, ours = _encoder(source.path, plan, plan.max_length), _encoder(str(adapted), plan, plan.max_length)
    cut = {"max_length": plan.max_length, "show_progress_bar": False}
    reference = {"short": original.encode(short, **cut), "long": original.encode(long, **cut)}
    closeness = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ratio in plan.ratios:
            row = {"ratio": ratio}
            for label, model in (("adapted", ours), ("training_free", original)):
                row[f"{label}_short"] = _mean_cosine(
                    model.encode(short, compression_ratio=ratio, **cut), reference["short"]
                )
                row[f"{label}_long"] = _mean_cosine(
                    model.encode(long, compression_ratio=ratio, **cut), reference["long"]
                )
            closeness.append(row)
        timed = min(32, plan.eval_limit or 32)  # a smoke run times as few documents as it evaluates
        documents = long_documents(DATA / "eval" / "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz", timed)
        length = [plan.max_length or ours.max_length]
        speed = [r | {"model": "original"} for r in measure_latency(original, documents, length, [1.0])]
        speed += [r | {"model": "adapted"} for r in measure_latency(ours, documents, length, list(plan.ratios))]
    measured = {
        "closeness": closeness,
        "speed": speed,
        "closeness_texts": {"short": len(short), "long": len(long)},
        "precision": {"original": original.precision, "adapted": ours.precision},
    }
    atomic_write_json(record, measured | {"measured": about})
    return measured
