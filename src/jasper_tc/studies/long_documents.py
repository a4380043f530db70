"""The long-document study: documents far past the window, read by truncation, by compress-to-fit at two
budgets, and by chunk-and-mean, for each model; quality and encode time per document length.

Tasks: the shipped LongWiki-en and LongWiki-zh (a sentence from deep inside a whole article), and the
LongEmbed-style passkey and needle tasks generated at each length (100 documents, 50 queries, one relevant
document each, nDCG@1). Every measurement is kept in the output folder and skipped when present, so the
study resumes; ``results.json`` holds every figure and ``long_documents_page`` writes the page from it.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..encode import EncodeOptions
from ..phases import PhaseClock
from ..resources import find_suite

__all__ = ["STRATEGIES", "LongDocumentStudy", "run_long_document_study"]

# name -> encode options; the window of all-MiniLM-L6-v2 as sentence-transformers uses it is 256 tokens.
# The baselines read at ratio 1: left to the model's default, an adapted model would pool them too.
STRATEGIES = {
    "truncate": {"long_inputs": "truncate", "compression_ratio": 1.0},
    "fit-256": {"long_inputs": "fit", "token_budget": 256},
    "fit-512": {"long_inputs": "fit", "token_budget": 512},
    "chunk": {"long_inputs": "chunk", "chunk_overlap": 32, "compression_ratio": 1.0},
}
REAL_TASKS = ("LongWiki-en", "LongWiki-zh")


@dataclass(frozen=True)
class LongDocumentStudy:
    output: Path
    models: dict[str, str]  # label -> model folder or name
    strategies: dict[str, dict] = field(default_factory=lambda: dict(STRATEGIES))
    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192)
    kinds: tuple[str, ...] = ("passkey", "needle")
    real_tasks: tuple[str, ...] = REAL_TASKS
    cap: int = 16_384  # tokens read per document by fit and chunk
    documents: int = 100
    queries: int = 50
    batch_size: int = 8


def run_long_document_study(study: LongDocumentStudy, say: Callable[[str], None] = print) -> dict:
    """Every model x strategy on every task; write and return ``results.json``."""
    from ..encode import load

    clock = PhaseClock(say)
    rows = []
    for label, model in study.models.items():
        encoder = None
        for strategy, options in study.strategies.items():
            record = study.output / "runs" / f"{_slug(label)}__{strategy}.json"
            if not record.is_file():
                encoder = encoder or load(model, device="cpu")
                with clock.phase(f"{label}: {strategy}"):
                    measured = _measure(study, encoder, options)
                    record.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_json(record, measured)
            for row in json.loads(record.read_text(encoding="utf-8")):
                rows.append(row | {"model": label, "strategy": strategy})
    results = {
        "study": {k: v for k, v in dataclasses.asdict(study).items() if k != "output"},
        "rows": rows,
        "timings_s": dict(clock.timings),
    }
    atomic_write_json(study.output / "results.json", results)
    return results


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def _encode_documents(
    encoder, documents: list[str], study: LongDocumentStudy, options: dict
) -> tuple[np.ndarray, float]:
    chosen = EncodeOptions.of(None, batch_size=study.batch_size, **options)
    if chosen.long_inputs != "truncate":
        chosen = EncodeOptions.of(chosen, max_length=study.cap)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation and training-free pooling warn; both are the point here
        vectors = encoder.encode(documents, chosen, show_progress_bar=False)
    return vectors, (time.perf_counter() - started) * 1000 / len(documents)


def _measure(study: LongDocumentStudy, encoder, options: dict) -> list[dict]:
    """Quality and ms per document of one model under one strategy, on every task and length."""
    from ..evaluation import metrics
    from ..evaluation.synthetic import build_synthetic
    from ..evaluation.tasks import load_suite, load_task, select_tasks

    rows = []
    suite, root = load_suite(find_suite("local-bilingual"))
    for task in select_tasks(suite, list(study.real_tasks), prompts=False).tasks:
        loaded = load_task(task, root)
        documents, ms = _encode_documents(encoder, loaded.texts["documents"], study, options)
        queries = encoder.encode(loaded.texts["queries"], show_progress_bar=False)
        tokens = [len(ids) for ids in encoder.tokenize(loaded.texts["documents"], study.cap)[0]]
        scores = metrics.retrieval(queries, documents, loaded.relevant)
        rows.append(
            {"task": task.name, "length": int(np.median(tokens)), "ndcg_at_10": scores["ndcg_at_10"], "ms_per_doc": ms}
        )

    def count(text: str) -> int:
        return len(encoder.tokenizer(text, add_special_tokens=False)["input_ids"])

    for kind in study.kinds:
        for length in study.lengths:
            task = build_synthetic(kind, length, count, documents=study.documents, queries=study.queries)
            documents, ms = _encode_documents(encoder, task.documents, study, options)
            queries = encoder.encode(task.queries, show_progress_bar=False)
            scores = metrics.retrieval(queries, documents, task.relevant, ndcg_at=1)
            rows.append({"task": kind, "length": length, "ndcg_at_1": scores["ndcg_at_1"], "ms_per_doc": ms})
    return rows
