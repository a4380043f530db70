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
from ..results import Verdict

__all__ = [
    "STRATEGIES",
    "LongDocumentStudy",
    "encode_documents",
    "judge",
    "run_long_document_study",
    "with_verdicts",
    "write_page",
]

# name -> encode options; the window of all-MiniLM-L6-v2 as sentence-transformers uses it is 256 tokens.
# The baselines read at ratio 1: left to the model's default, an adapted model would pool them too.
# ``multi_vector``: the document keeps a vector per window or segment, and a query scores its best one.
SEGMENTS = {"long_inputs": "segments", "token_budget": 256, "segment_length": 2048, "chunk_overlap": 32}
CHUNK = {"long_inputs": "chunk", "chunk_overlap": 32, "compression_ratio": 1.0}
LATE_MAX_512 = {**SEGMENTS, "segment_length": 512, "late_chunking": True, "multi_vector": True}
STRATEGIES = {
    "truncate": {"long_inputs": "truncate", "compression_ratio": 1.0},
    "fit-256": {"long_inputs": "fit", "token_budget": 256},
    "fit-512": {"long_inputs": "fit", "token_budget": 512},
    "segments": SEGMENTS,
    "segments-1024": {**SEGMENTS, "segment_length": 1024},  # shorter segments: more forwards, less pooled
    "segments-768": {**SEGMENTS, "segment_length": 768},
    "segments-768-b224": {**SEGMENTS, "segment_length": 768, "token_budget": 224},
    # short segments, each to a quarter of its tokens (the default of long_inputs="segments" for this window,
    # and what adapt's segments stage trains): more forwards, each shorter
    "segments-512": {**SEGMENTS, "segment_length": 512, "token_budget": 128},
    "segments-384": {**SEGMENTS, "segment_length": 384, "token_budget": 96},
    "segments-512-b144": {**SEGMENTS, "segment_length": 512, "token_budget": 144},  # a little more per segment
    # late chunking, one vector: the windows' vectors pooled from each segment's forward, averaged as chunk's
    "late": {**SEGMENTS, "late_chunking": True},
    "late-1024": {**SEGMENTS, "segment_length": 1024, "late_chunking": True},
    "chunk": CHUNK,
    "chunk-0.25": {**CHUNK, "compression_ratio": 0.25},  # chunk-and-mean, each window pooled
    "segments-max": {**SEGMENTS, "multi_vector": True},
    "segments-max-1024": {**SEGMENTS, "segment_length": 1024, "multi_vector": True},
    "segments-max-512": {**SEGMENTS, "segment_length": 512, "multi_vector": True},
    # late chunking: a vector per 256-token window of each segment, pooled from the segment's one forward
    "late-max-1024": {**SEGMENTS, "segment_length": 1024, "late_chunking": True, "multi_vector": True},
    "late-max-512": LATE_MAX_512,
    # late chunking into shorter stretches: more, finer vectors from the same forwards (a query that is one
    # sentence of a page finds the stretch that holds it), and fewer positions per segment
    "late-max-512-s64": {**LATE_MAX_512, "late_chunk_length": 64},
    "late-max-512-s32": {**LATE_MAX_512, "late_chunk_length": 32},
    "late-max-512-b208-s32": {**LATE_MAX_512, "token_budget": 208, "late_chunk_length": 32},
    "chunk-max": {**CHUNK, "multi_vector": True},
    # chunk-max with each window pooled: as many vectors as chunk-max, fewer positions each
    "chunk-max-0.33": {**CHUNK, "compression_ratio": 0.33, "multi_vector": True},
    "chunk-max-0.25": {**CHUNK, "compression_ratio": 0.25, "multi_vector": True},
    "chunk-max-0.2": {**CHUNK, "compression_ratio": 0.2, "multi_vector": True},
}
REAL_TASKS = ("LongWiki-en", "PythonDocs-en")  # two genres: encyclopaedia articles, technical documentation


@dataclass(frozen=True)
class LongDocumentStudy:
    output: Path
    models: dict[str, str]  # label -> model folder or name
    strategies: dict[str, dict] = field(default_factory=lambda: dict(STRATEGIES))
    lengths: tuple[int, ...] = (1024, 4096, 8192, 16384, 32768)
    kinds: tuple[str, ...] = ("passkey", "needle")
    real_tasks: tuple[str, ...] = REAL_TASKS
    cap: int = 36_864  # tokens read per document by fit, segments and chunk (the longest pages have 35,000)
    documents: int = 100
    queries: int = 50
    batch_size: int = 8
    dtype: str | None = None  # load's dtype: None as saved (fp32); "auto" the fastest within cosine 0.999 here
    # The real tasks' documents by length (tokens; the last bucket open): a score and a time per bucket.
    buckets: tuple[int, ...] = (4096, 8192, 16384)


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
                encoder = encoder or load(model, device="cpu", dtype=study.dtype)
                with clock.phase(f"{label}: {strategy}"):
                    measured = [row | {"precision": encoder.precision} for row in _measure(study, encoder, options)]
                    record.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_json(record, measured)
            for row in json.loads(record.read_text(encoding="utf-8")):
                rows.append(row | {"model": label, "strategy": strategy})
    results = {
        "study": {k: v for k, v in dataclasses.asdict(study).items() if k != "output"},
        "rows": rows,
        "precision": {row["model"]: row["precision"] for row in rows if "precision" in row},
        "timings_s": dict(clock.timings),
    }
    results = with_verdicts(results)
    atomic_write_json(study.output / "results.json", results)
    return results


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def encode_documents(
    encoder, documents: list[str], study: LongDocumentStudy, options: dict
) -> tuple[np.ndarray | list[np.ndarray], float]:
    """The documents' vectors (a list of per-window arrays for a multi-vector strategy) and ms per document."""
    settings = {k: v for k, v in options.items() if k != "multi_vector"}
    chosen = EncodeOptions.of(None, batch_size=study.batch_size, **settings)
    if chosen.long_inputs != "truncate":
        chosen = EncodeOptions.of(chosen, max_length=study.cap)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation and training-free pooling warn; both are the point here
        multi = bool(options.get("multi_vector"))
        vectors = encoder.encode(documents, chosen, show_progress_bar=False, return_segments=multi)
    return vectors, (time.perf_counter() - started) * 1000 / len(documents)


def _measure(study: LongDocumentStudy, encoder, options: dict) -> list[dict]:
    """Quality and ms per document of one model under one strategy, on every task and length."""
    from ..evaluation import metrics
    from ..evaluation.synthetic import build_synthetic
    from ..evaluation.tasks import load_suite, load_task, select_tasks

    rows = []
    suite, root = load_suite(find_suite("local-bilingual"))
    for task in select_tasks(suite, list(study.real_tasks), prompts=False).tasks:
        rows += _measure_real(study, encoder, options, load_task(task, root), task.name)

    def count(text: str) -> int:
        return len(encoder.tokenizer(text, add_special_tokens=False)["input_ids"])

    for kind in study.kinds:
        for length in study.lengths:
            task = build_synthetic(kind, length, count, documents=study.documents, queries=study.queries)
            documents, ms = encode_documents(encoder, task.documents, study, options)
            queries = encoder.encode(task.queries, show_progress_bar=False)
            scores = metrics.retrieval(queries, documents, task.relevant, ndcg_at=1)
            rows.append({"task": kind, "length": length, "ndcg_at_1": scores["ndcg_at_1"], "ms_per_doc": ms})
    return rows


def _bucket_names(edges: tuple[int, ...]) -> list[str]:
    bounds = [0, *edges]
    return [f"{a:,}-{b:,}" for a, b in zip(bounds, edges, strict=False)] + [f"{edges[-1]:,}+"]


def _measure_real(study: LongDocumentStudy, encoder, options: dict, loaded, name: str) -> list[dict]:
    """A real task as a whole, then by document length: each bucket's documents encoded (and timed) on
    their own, each bucket scored on the queries whose relevant document lies in it, against all documents."""
    from ..evaluation import metrics

    texts = loaded.texts["documents"]
    tokens = np.array([len(ids) for ids in encoder.tokenize(texts, study.cap)[0]])
    bucket_of = np.searchsorted(np.array(study.buckets), tokens, side="right")
    vectors: list = [None] * len(texts)
    spent: dict[int, float] = {}
    for bucket in np.unique(bucket_of):
        members = np.flatnonzero(bucket_of == bucket)
        encoded, ms = encode_documents(encoder, [texts[i] for i in members], study, options)
        spent[int(bucket)] = ms * len(members)
        for i, vector in zip(members, encoded, strict=True):
            vectors[i] = vector
    documents = vectors if options.get("multi_vector") else np.stack(vectors)
    queries = encoder.encode(loaded.texts["queries"], show_progress_bar=False)
    whole = metrics.retrieval(queries, documents, loaded.relevant)["ndcg_at_10"]
    total_ms = sum(spent.values()) / len(texts)
    rows = [{"task": name, "length": int(np.median(tokens)), "ndcg_at_10": whole, "ms_per_doc": total_ms}]
    if options.get("multi_vector"):  # what a multi-vector index stores and each query scores against
        rows[0]["vectors_per_doc"] = sum(len(v) for v in documents) / len(documents)
    for bucket, label in enumerate(_bucket_names(study.buckets)):
        asked = [q for q, rel in enumerate(loaded.relevant) if bucket_of[max(rel, key=rel.get)] == bucket]
        if bucket not in spent or not asked:
            continue
        scores = metrics.retrieval(queries[asked], documents, [loaded.relevant[q] for q in asked])
        count = int(np.sum(bucket_of == bucket))
        rows.append({
            "task": name, "bucket": label, "length": int(np.median(tokens[bucket_of == bucket])),
            "ndcg_at_10": scores["ndcg_at_10"], "ms_per_doc": spent[bucket] / count, "documents": count,
            "queries": len(asked),
        })  # fmt: skip
    return rows


WINDOW = 256  # all-MiniLM-L6-v2's window as sentence-transformers uses it
# The targets: the best single-vector compressed strategy within 1 point of chunk-and-mean at no more than a
# third of its time; the multi-vector one within 1 point of chunk-max at no more than half of its time.
TARGETS = {"single": ("chunk", 1.0, 1 / 3), "multi": ("chunk-max", 1.0, 1 / 2)}
LONG_FROM = 4096  # the targets hold for documents of 4k tokens and more: each real task is judged there too


def _mean(rows: list[dict], key: str, model: str, strategy: str, picks: list[dict]) -> float | None:
    """Mean of ``key`` over the rows of one model and strategy matching any of ``picks``: length buckets
    weighted by their queries (scores) or documents (times), as if measured together; other rows alike."""
    weight = "documents" if key == "ms_per_doc" else "queries"
    values = [
        (r[key], r.get(weight, 1) if r.get("bucket") else 1) for pick in picks for r in rows
        if r["model"] == model and r["strategy"] == strategy and all(r.get(k) == v for k, v in pick.items())
    ]  # fmt: skip
    total = sum(w for _, w in values)
    return sum(v * w for v, w in values) / total if values else None


def _long_buckets(study: dict) -> list[str]:
    """The length buckets from ``LONG_FROM`` tokens on (results before the buckets: none)."""
    edges = tuple(study.get("buckets") or ())
    bounds = [0, *edges]
    return [name for name, low in zip(_bucket_names(edges), bounds, strict=True) if low >= LONG_FROM] if edges else []


def _families(study: dict, rows: list[dict]) -> dict[str, tuple[list[dict], str]]:
    """Each real task on its own and, where it has shorter documents too, at LONG_FROM tokens and more
    (nDCG@10), and the synthetic tasks at 4x the window and more (nDCG@1)."""
    families, long = {}, _long_buckets(study)
    for task in study["real_tasks"]:
        families[task] = ([{"task": task, "bucket": None}], "ndcg_at_10")
        measured = {r["bucket"] for r in rows if r["task"] == task and r.get("bucket")}
        if measured & set(long) and measured - set(long):
            families[f"{task} {LONG_FROM // 1024}k+"] = ([{"task": task, "bucket": b} for b in long], "ndcg_at_10")
    long_enough = [{"task": k, "length": n} for k in study["kinds"] for n in study["lengths"] if n >= 4 * WINDOW]
    return families | ({"synthetic": (long_enough, "ndcg_at_1")} if long_enough else {})


def _kinds(strategies: dict) -> dict[str, list[str]]:
    """The compressed strategies that compete with each baseline: single-vector (fit, segments) with chunk,
    multi-vector (segments-max, and chunk-max with its windows pooled) with chunk-max."""
    compressed = {
        name: o for name, o in strategies.items()
        if o.get("long_inputs") in ("fit", "segments") or o.get("compression_ratio", 1.0) < 1
    }  # fmt: skip
    return {
        "single": [n for n, o in compressed.items() if not o.get("multi_vector")],
        "multi": [n for n, o in compressed.items() if o.get("multi_vector")],
    }


def _verdict(rows, model: str, family: str, picks, key: str, kind: str, candidates: list[str]) -> Verdict:
    baseline, gap_allowed, time_allowed = TARGETS[kind]
    figures: dict = {"model": model, "family": family, "kind": kind, "baseline": baseline}
    scores = {s: _mean(rows, key, model, s, picks) for s in [*candidates, baseline]}
    times = {s: _mean(rows, "ms_per_doc", model, s, picks) for s in [*candidates, baseline]}
    present = [s for s in candidates if scores[s] is not None and times[s] is not None]
    if scores[baseline] is None or times[baseline] is None or not present:
        return Verdict(f"{model} {kind} {family}", None, figures)
    # the best-scoring within the time allowed (a faster one that meets the bar beats a slower better one)
    fast = [s for s in present if times[s] <= time_allowed * times[baseline]]
    best = max(fast or present, key=lambda s: scores[s])
    gap, share = 100 * (scores[best] - scores[baseline]), times[best] / times[baseline]
    truncate = _mean(rows, key, model, "truncate", picks)
    figures |= {"strategy": best, "minus_baseline": gap, "time_over_baseline": share}
    figures["minus_truncate"] = None if truncate is None else 100 * (scores[best] - truncate)
    # against the baseline of whichever model in the study reads best with it (what a user would pick instead)
    others = {m: _mean(rows, key, m, baseline, picks) for m in {r["model"] for r in rows} - {model}}
    better = {m: score for m, score in others.items() if score is not None and score > scores[baseline]}
    if better:
        rival = max(better, key=better.__getitem__)
        figures |= {"best_baseline_model": rival, "minus_best_baseline": 100 * (scores[best] - better[rival])}
    return Verdict(f"{model} {kind} {family}", gap >= -gap_allowed and share <= time_allowed, figures)


def judge(results: dict) -> list[Verdict]:
    """Per model and task family: is the best single-vector compressed strategy within 1 point of chunk-and-
    mean at a third of its time, and the best multi-vector one within 1 point of chunk-max at half of it?
    Each with its gap (points), its time as a share of the baseline's, and its gain over truncation."""
    study, rows = results["study"], results["rows"]
    verdicts = []
    for model in study["models"]:
        for family, (picks, key) in _families(study, rows).items():
            for kind, candidates in _kinds(study["strategies"]).items():
                if candidates:
                    verdicts.append(_verdict(rows, model, family, picks, key, kind, candidates))
    return verdicts


def with_verdicts(results: dict) -> dict:
    """``results`` with the targets' verdicts (an older results file gets them now)."""
    targets = {
        "window": WINDOW,
        **{kind: {"baseline": b, "points": g, "time_share": t} for kind, (b, g, t) in TARGETS.items()},
    }
    return results | {"targets": targets, "verdicts": [v.to_dict() for v in judge(results)]}


def write_page(results: dict, page: Path) -> dict:
    """The study's page from ``results`` alone, judged first if they were written before verdicts were."""
    from ..pages.long_documents import write_long_document_page

    judged = with_verdicts(results)
    write_long_document_page(judged, page)
    return judged
