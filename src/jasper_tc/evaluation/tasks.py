"""Local evaluation tasks: their config, and loading them from files in the layouts the shipped data use.

Formats: ``.tsv`` (tab-separated, UTF-8, header row, no quoting) and ``.jsonl``, either ``.gz``; retrieval
in the BEIR layout (corpus/queries ``_id``+``text``, qrels ``query-id corpus-id score``). Loading
errors name the file and line.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..configs import ConfigError, load_config

__all__ = ["LoadedTask", "SuiteConfig", "TaskConfig", "TaskError", "load_suite", "load_task", "select_tasks"]

TaskType = Literal["sts", "pair_classification", "retrieval", "classification", "clustering", "bitext"]
MAIN_SCORE = {
    "sts": "cosine_spearman",
    "pair_classification": "cosine_ap",
    "retrieval": "ndcg_at_10",
    "classification": "accuracy",
    "clustering": "v_measure",
    "bitext": "f1",
}


class TaskError(ValueError):
    """A task's data cannot be loaded; the message names the task, the file and the line."""


@dataclass(frozen=True)
class TaskConfig:
    name: str
    type: TaskType
    lang: str = ""
    # sts / pair_classification / clustering: the file; bitext: the source-language file
    path: str | None = None
    # bitext: the target-language file, row-aligned with ``path``
    target_path: str | None = None
    # classification
    train_path: str | None = None
    test_path: str | None = None
    # retrieval (BEIR layout)
    queries: str | None = None
    corpus: str | None = None
    qrels: str | None = None
    # column / field names
    text_field: str = "text"
    label_field: str = "label"
    first_field: str = "sentence1"
    second_field: str = "sentence2"
    score_field: str = "score"
    # prompt for every text (queries only, for retrieval); documents get ``document_prompt``
    prompt: str | None = None
    document_prompt: str | None = None
    # first rows only (test rows; classification: also train rows), for quick runs
    limit: int | None = None
    train_limit: int | None = None
    # retrieval: keep the judged documents of the kept queries plus the first N others
    corpus_limit: int | None = None


@dataclass(frozen=True)
class SuiteConfig:
    tasks: list[TaskConfig]
    # folder the task paths are relative to; relative to the suite file itself when relative
    data_root: str = "."
    # .jsonl(.gz) of long texts ("text" field) for the latency-vs-length measurement; None: skip it
    long_documents: str | None = None


@dataclass
class LoadedTask:
    config: TaskConfig
    texts: dict[str, list[str]]  # role -> texts (prompts already applied)
    labels: dict[str, np.ndarray]  # role -> labels / scores
    relevant: list[dict[int, int]] | None = None  # retrieval: per query, document row -> relevance


REQUIRED = {
    "sts": ("path",),
    "pair_classification": ("path",),
    "clustering": ("path",),
    "bitext": ("path", "target_path"),
    "classification": ("train_path", "test_path"),
    "retrieval": ("queries", "corpus", "qrels"),
}


def load_suite(path: str | os.PathLike, overrides: list[str] | None = None) -> tuple[SuiteConfig, Path]:
    """The suite and the folder its task paths are relative to; missing task fields reported together."""
    suite = load_config(SuiteConfig, path, overrides)
    problems = []
    names = [t.name for t in suite.tasks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"tasks: the name {name!r} is used twice")
    for i, task in enumerate(suite.tasks):
        for key in REQUIRED[task.type]:
            if getattr(task, key) is None:
                problems.append(f"tasks[{i}] ({task.name}): type {task.type} needs {key}")
    if problems:
        raise ConfigError(str(path), problems)
    root = Path(suite.data_root)
    return suite, root if root.is_absolute() else (Path(path).parent / root).resolve()


def select_tasks(
    suite: SuiteConfig, names: Sequence[str] | None = None, *, limit: int | None = None, prompts: bool = True
) -> SuiteConfig:
    """The suite cut to ``names`` (all tasks when None; an unknown name is an error naming the known ones),
    each to at most ``limit`` test rows (retrieval: ``limit`` queries, their judged documents and others up
    to ``2 * limit``; classification: ``4 * limit`` training rows), with or without the task prompts."""
    known = [task.name for task in suite.tasks]
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise ValueError(f"no task {', '.join(map(repr, unknown))} in the suite (it has: {', '.join(known)})")
    tasks = []
    for task in suite.tasks:
        if names is not None and task.name not in names:
            continue
        changes: dict = {} if prompts else {"prompt": None, "document_prompt": None}
        if limit is not None:
            changes["limit"] = min(task.limit or limit, limit)
            if task.train_limit is not None:
                changes["train_limit"] = min(task.train_limit, 4 * limit)
            if task.type == "retrieval":  # the judged documents are always kept; others fill up to the limit
                changes["corpus_limit"] = min(task.corpus_limit or 10**9, 2 * limit)
        tasks.append(dataclasses.replace(task, **changes))
    return dataclasses.replace(suite, tasks=tasks)


def _open(path: Path) -> io.TextIOBase:
    if not path.is_file():
        raise TaskError(f"{path}: no such file")
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8")


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, record) of a .tsv or .jsonl file (``.gz`` too)."""
    is_tsv = ".tsv" in path.suffixes
    with _open(path) as handle:
        if is_tsv:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for number, row in enumerate(reader, start=2):
                yield number, row
        else:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as error:
                        raise TaskError(f"{path}: line {number}: not JSON ({error.msg})") from None


def _columns(path: Path, fields: list[str], limit: int | None) -> dict[str, list]:
    out: dict[str, list] = {f: [] for f in fields}
    for number, record in _records(path):
        for field in fields:
            value = record.get(field)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise TaskError(f"{path}: line {number}: missing or empty field {field!r}")
            out[field].append(value)
        if limit is not None and len(out[fields[0]]) >= limit:
            break
    if not out[fields[0]]:
        raise TaskError(f"{path}: no rows")
    return out


def _prompted(prompt: str | None, texts: list[str]) -> list[str]:
    return [(prompt or "") + t for t in texts]


def load_task(task: TaskConfig, root: Path) -> LoadedTask:
    """Read a task's files; errors name the task, file and line."""
    try:
        return _load(task, root)
    except TaskError as error:
        raise TaskError(f"task {task.name}: {error}") from None


def _load(task: TaskConfig, root: Path) -> LoadedTask:
    p = task.prompt
    if task.type in ("sts", "pair_classification"):
        label = task.score_field if task.type == "sts" else task.label_field
        cols = _columns(root / task.path, [task.first_field, task.second_field, label], task.limit)
        return LoadedTask(
            task,
            {"first": _prompted(p, cols[task.first_field]), "second": _prompted(p, cols[task.second_field])},
            {"gold": np.array([float(v) for v in cols[label]])},
        )
    if task.type == "clustering":
        cols = _columns(root / task.path, [task.text_field, task.label_field], task.limit)
        return LoadedTask(
            task, {"texts": _prompted(p, cols[task.text_field])}, {"labels": np.array(cols[task.label_field])}
        )
    if task.type == "bitext":
        source = _columns(root / task.path, [task.text_field], task.limit)[task.text_field]
        target = _columns(root / task.target_path, [task.text_field], task.limit)[task.text_field]
        if len(source) != len(target):
            raise TaskError(f"{task.path} has {len(source)} rows, {task.target_path} {len(target)}: not aligned")
        return LoadedTask(task, {"source": _prompted(p, source), "target": _prompted(p, target)}, {})
    if task.type == "classification":
        train = _columns(root / task.train_path, [task.text_field, task.label_field], task.train_limit)
        test = _columns(root / task.test_path, [task.text_field, task.label_field], task.limit)
        return LoadedTask(
            task,
            {"train": _prompted(p, train[task.text_field]), "test": _prompted(p, test[task.text_field])},
            {"train": np.array(train[task.label_field]), "test": np.array(test[task.label_field])},
        )
    return _load_retrieval(task, root)


def _load_retrieval(task: TaskConfig, root: Path) -> LoadedTask:
    corpus_path, queries_path, qrels_path = root / task.corpus, root / task.queries, root / task.qrels
    corpus = _columns(corpus_path, ["_id", "text"], None)
    doc_row = {d: i for i, d in enumerate(corpus["_id"])}
    queries = _columns(queries_path, ["_id", "text"], None)
    query_text = dict(zip(queries["_id"], queries["text"]))
    judged: dict[str, dict[int, int]] = {}
    for number, row in _records(qrels_path):
        query, doc, score = row.get("query-id"), row.get("corpus-id"), row.get("score")
        if query not in query_text:
            raise TaskError(f"{qrels_path}: line {number}: query-id {query!r} is not in {queries_path.name}")
        if doc not in doc_row:
            raise TaskError(f"{qrels_path}: line {number}: corpus-id {doc!r} is not in {corpus_path.name}")
        if int(score) > 0:
            judged.setdefault(query, {})[doc_row[doc]] = int(score)
    if not judged:
        raise TaskError(f"{qrels_path}: no relevant pairs")
    query_ids = list(judged)[: task.limit] if task.limit else list(judged)
    keep = range(len(corpus["text"]))
    if task.corpus_limit is not None:
        needed = {row for q in query_ids for row in judged[q]}
        keep = sorted(needed | set(range(min(task.corpus_limit, len(corpus["text"])))))
    new_row = {old: new for new, old in enumerate(keep)}
    return LoadedTask(
        task,
        {
            "queries": _prompted(task.prompt, [query_text[q] for q in query_ids]),
            "documents": _prompted(task.document_prompt, [corpus["text"][i] for i in keep]),
        },
        {},
        relevant=[{new_row[row]: score for row, score in judged[q].items()} for q in query_ids],
    )
