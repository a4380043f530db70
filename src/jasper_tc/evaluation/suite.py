"""Running a suite of local tasks at several compression ratios.

Every distinct text is encoded once per ratio -- and only once in all when it is no longer than the
compression threshold, since such a text has the same embedding at every ratio. One JSON result per
task x ratio (fields after MTEB's result files); a task that fails is recorded with its error and the
others go on.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_json
from ..encode import EncodeOptions, Encoder
from . import metrics
from .tasks import MAIN_SCORE, LoadedTask, SuiteConfig, TaskError, load_task

__all__ = ["EmbeddingCache", "TaskFailures", "failed_tasks", "run_suite", "score_task"]


class TaskFailures(RuntimeError):
    """Tasks of a run failed; the message names each failed task, its ratios and its first error."""

    def __init__(self, failed: dict[str, list[dict]]) -> None:
        self.failed = failed
        lines = []
        for task, records in failed.items():
            ratios = ", ".join(f"{r['compression_ratio']:g}" for r in records)
            lines.append(f"{task} (ratio {ratios}): {records[0]['error']}")
        super().__init__(f"{len(failed)} task(s) failed:\n  " + "\n  ".join(lines))


def failed_tasks(records: list[dict]) -> dict[str, list[dict]]:
    """The records that hold an error, by task, in run order."""
    failed: dict[str, list[dict]] = {}
    for record in records:
        if "error" in record:
            failed.setdefault(record["task_name"], []).append(record)
    return failed


class EmbeddingCache:
    """Embeddings by text for one encoder and one set of options: short texts are shared across ratios.

    ``multi_vector``: retrieval documents keep a vector per window or segment (late chunking: per stretch of
    text), and a query scores a document's best one (max-sim), as multi-vector search ranks them."""

    def __init__(self, encoder: Encoder, options: EncodeOptions | None = None, multi_vector: bool = False) -> None:
        self.encoder = encoder
        self.options = EncodeOptions.of(options, normalize=True)
        self.cap = encoder.check(self.options).cap  # bad options: an error now, naming the value
        self.multi_vector = multi_vector
        self.short: dict[str, np.ndarray] = {}  # texts within the threshold: any ratio
        self.by_ratio: dict[float, dict[str, np.ndarray]] = {}
        self.rows_by_ratio: dict[float, dict[str, np.ndarray]] = {}
        self.encoded = 0

    def rows(self, texts: list[str], ratio: float) -> list[np.ndarray]:
        """Each text's ``(k, D)`` vectors: one per window or segment of it (one for a text that fits)."""
        cache = self.rows_by_ratio.setdefault(ratio, {})
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            rows = self.encoder.encode(
                missing, self.options, compression_ratio=ratio, return_segments=True, show_progress_bar=False
            )
            self.encoded += len(missing)
            cache.update(zip(missing, rows, strict=True))
        return [cache[t] for t in texts]

    def get(self, texts: list[str], ratio: float) -> np.ndarray:
        cache = self.by_ratio.setdefault(ratio, {})
        missing = list(dict.fromkeys(t for t in texts if t not in self.short and t not in cache))
        if missing:
            vectors, details = self.encoder.encode(
                missing, self.options, compression_ratio=ratio, return_details=True, show_progress_bar=False
            )
            self.encoded += len(missing)
            threshold = self.encoder.backend.length_threshold
            for text, vector, detail in zip(missing, vectors, details):
                seen = min(detail.tokens, self.cap)
                (self.short if seen <= threshold else cache)[text] = vector  # short: the same at any ratio
        return np.stack([self.short[t] if t in self.short else cache[t] for t in texts])


def score_task(task: LoadedTask, cache: EmbeddingCache, ratio: float) -> dict[str, float]:
    """The task's metrics at ``ratio``."""
    t, kind = task.texts, task.config.type
    if kind == "sts":
        return metrics.sts(cache.get(t["first"], ratio), cache.get(t["second"], ratio), task.labels["gold"])
    if kind == "pair_classification":
        labels = task.labels["gold"].astype(int)
        return metrics.pair_classification(cache.get(t["first"], ratio), cache.get(t["second"], ratio), labels)
    if kind == "retrieval":
        documents = (cache.rows if cache.multi_vector else cache.get)(t["documents"], ratio)
        return metrics.retrieval(cache.get(t["queries"], ratio), documents, task.relevant)
    if kind == "classification":
        return metrics.classification(
            cache.get(t["train"], ratio), task.labels["train"], cache.get(t["test"], ratio), task.labels["test"]
        )
    if kind == "clustering":
        return metrics.clustering(cache.get(t["texts"], ratio), task.labels["labels"])
    return metrics.bitext_mining(cache.get(t["source"], ratio), cache.get(t["target"], ratio))


def _record(task, loaded: LoadedTask | str, cache: EmbeddingCache, ratio: float, model_name: str) -> dict:
    """One task at one ratio: its scores, or the error that stopped it (the other tasks go on)."""
    record = {
        "task_name": task.name,
        "type": task.type,
        "lang": task.lang,
        "model": model_name,
        "compression_ratio": ratio,
        "main_score_name": MAIN_SCORE[task.type],
    }
    started = time.perf_counter()
    if isinstance(loaded, str):
        record |= {"error": loaded}
    else:
        try:
            scores = score_task(loaded, cache, ratio)
            record |= {"scores": scores, "main_score": scores[MAIN_SCORE[task.type]]}
        except Exception as error:  # one failing task must not lose the others' results
            record |= {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    record["evaluation_time"] = round(time.perf_counter() - started, 3)
    return record


def run_suite(
    encoder: Encoder,
    suite: SuiteConfig,
    root: Path,
    ratios: list[float],
    output: Path,
    *,
    model_name: str,
    options: EncodeOptions | None = None,
    multi_vector: bool = False,
) -> list[dict]:
    """Evaluate every task at every ratio; write ``results/<task>__r<ratio>.json`` and return the records.

    ``options.max_length`` cuts every input to that many tokens (default: the model's own limit), so that
    models with different limits are compared on the same text; ``options.long_inputs`` ``fit`` or
    ``chunk`` reads long inputs past the window. The ratio is each of ``ratios`` in turn. ``multi_vector``:
    retrieval documents keep a vector per window or segment, scored by a query's best match.
    """
    results_dir = output / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(encoder, options, multi_vector)
    loaded: dict[str, LoadedTask | str] = {}
    for task in suite.tasks:
        try:
            loaded[task.name] = load_task(task, root)
        except (TaskError, OSError) as error:
            loaded[task.name] = str(error)
    records = []
    progress = tqdm(total=len(ratios) * len(suite.tasks), desc="eval", unit="task")
    for ratio in ratios:
        for task in suite.tasks:
            progress.set_postfix_str(f"{task.name} r={ratio:g}")
            record = _record(task, loaded[task.name], cache, ratio, model_name)
            atomic_write_json(results_dir / f"{task.name}__r{ratio:g}.json", record)
            records.append(record)
            progress.update(1)
    progress.close()
    atomic_write_json(
        output / "summary.json",
        {
            "model": model_name,
            "ratios": ratios,
            "max_length": cache.cap,
            "options": {k: v for k, v in cache.options.source().items() if k != "compression_ratio"}
            | ({"multi_vector": True} if multi_vector else {}),
            "results": records,
            "texts_encoded": cache.encoded,
        },
    )
    return records


def load_records(run: Path) -> dict:
    """A run's ``summary.json``."""
    path = Path(run) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no summary.json (not an eval run folder)")
    return json.loads(path.read_text(encoding="utf-8"))
