"""Corpora: reading texts from files, streamed (``.txt`` one text a line, ``.jsonl``, ``.parquet``; ``.gz``
too), the corpus section of the teach and train configs, and the one scan before any model loads.

Errors name the file, the line (or row) and the problem, so a bad record is found before hours of
compute. Imports nothing else from the package.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "CorpusConfig",
    "CorpusError",
    "CorpusScan",
    "corpus_format",
    "count_records",
    "iter_corpus",
    "iter_records",
    "iter_shards",
    "iter_triple_texts",
    "iter_triples",
    "scan_corpus",
    "text_id",
]

FORMATS = (".txt", ".jsonl", ".parquet")


class CorpusError(ValueError):
    """A corpus file cannot be read as asked; the message names the file and the record."""


def corpus_format(path: str | os.PathLike) -> str:
    """``.txt``, ``.jsonl`` or ``.parquet`` (a ``.gz`` suffix is looked through)."""
    suffixes = Path(path).suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".json":
        kind = ".jsonl"
    if kind not in FORMATS:
        raise CorpusError(f"{path}: unsupported file type {kind or '(none)'!r}; use one of {', '.join(FORMATS)}")
    return kind


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline); bytes are decoded line by line so errors name it."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusError(f"{path}: line {number}: not valid UTF-8 ({error.reason})") from None
            yield number, line.rstrip("\r\n")


def _json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line of a JSON-lines file."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{path}: line {number}: not a JSON object ({error.msg})") from None


def count_records(path: str | os.PathLike) -> int:
    """How many records :func:`iter_records` will yield (blank lines of text files are skipped)."""
    path = Path(path)
    if corpus_format(path) == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(1 for _, line in _lines(path) if line.strip())


def iter_records(
    path: str | os.PathLike, text_field: str = "text", id_field: str | None = None
) -> Iterator[tuple[str, str]]:
    """Yield ``(id, text)`` per record; the id is the ``id_field`` value, else the record's line/row number.

    Text files skip blank lines; in every format an empty text, a missing field or a non-string
    text is an error naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    kind = corpus_format(path)
    if kind == ".txt":
        for number, line in _lines(path):
            if line.strip():
                yield str(number), line
    elif kind == ".jsonl":
        for number, record in _json_lines(path):
            yield _fields(record, path, f"line {number}", text_field, id_field, default_id=str(number))
    else:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        columns = [text_field] + ([id_field] if id_field else [])
        missing = [c for c in columns if c not in parquet.schema_arrow.names]
        if missing:
            raise CorpusError(f"{path}: no column {missing[0]!r}; columns are {parquet.schema_arrow.names}")
        row = 0
        for batch in parquet.iter_batches(columns=columns, batch_size=8192):
            for record in batch.to_pylist():
                row += 1
                yield _fields(record, path, f"row {row}", text_field, id_field, default_id=str(row))


def _fields(record: object, path: Path, where: str, text_field: str, id_field: str | None, default_id: str):
    if not isinstance(record, dict):
        raise CorpusError(f"{path}: {where}: expected a JSON object, got {type(record).__name__}")
    if text_field not in record:
        raise CorpusError(f"{path}: {where}: no field {text_field!r} (fields: {sorted(record)})")
    text = record[text_field]
    if not isinstance(text, str):
        raise CorpusError(f"{path}: {where}: field {text_field!r} is {type(text).__name__}, not a string")
    if not text.strip():
        raise CorpusError(f"{path}: {where}: field {text_field!r} is empty")
    if id_field is None:
        return default_id, text
    if record.get(id_field) is None:
        raise CorpusError(f"{path}: {where}: no field {id_field!r}")
    return str(record[id_field]), text


# ---- stage-4 triples: {"query": str, "positive": str, "negatives": [str, ...]} per line ----


def text_id(text: str) -> str:
    """A stable id for a text (16 hex digits of BLAKE2b), used to find triple texts in a store."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def iter_triples(path: str | os.PathLike) -> Iterator[tuple[int, str, str, list[str]]]:
    """Yield ``(line, query, positive, negatives)``; a malformed line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    for number, record in _json_lines(path):
        if not isinstance(record, dict):
            raise CorpusError(f"{path}: line {number}: expected a JSON object")
        query, positive, negatives = record.get("query"), record.get("positive"), record.get("negatives", [])
        for name, value in (("query", query), ("positive", positive)):
            if not isinstance(value, str) or not value.strip():
                raise CorpusError(f"{path}: line {number}: field {name!r} must be a non-empty string")
        if not isinstance(negatives, list) or not all(isinstance(n, str) and n.strip() for n in negatives):
            raise CorpusError(f"{path}: line {number}: field 'negatives' must be a list of non-empty strings")
        yield number, query, positive, negatives


def iter_triple_texts(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Every distinct text of a triples file, once, in order of first appearance, as ``(text_id, text)``."""
    seen: set[str] = set()
    for _, query, positive, negatives in iter_triples(path):
        for text in (query, positive, *negatives):
            key = text_id(text)
            if key not in seen:
                seen.add(key)
                yield key, text


@dataclass(frozen=True)
class CorpusConfig:
    # .txt (one text a line), .jsonl or .parquet (.gz allowed); for format "triples", a stage-4 triples file.
    path: str
    # Field holding the text (jsonl/parquet).
    text_field: str = "text"
    # Field holding a unique id; None = the line/row number (triples: a hash of the text).
    id_field: str | None = None
    # "texts": one text per record; "triples": {"query", "positive", "negatives"} lines, every distinct text.
    format: Literal["texts", "triples"] = "texts"


@dataclass(frozen=True)
class CorpusScan:
    rows: int
    fingerprint: str
    ids: list[str]


def iter_corpus(corpus: CorpusConfig) -> Iterator[tuple[str, str]]:
    """``(id, text)`` of every record the teachers embed, in row order."""
    if corpus.format == "triples":
        return iter_triple_texts(corpus.path)
    return iter_records(corpus.path, corpus.text_field, corpus.id_field)


def scan_corpus(corpus: CorpusConfig, *, unique_texts: bool = True) -> CorpusScan:
    """One pass before any model loads: count rows, fingerprint the content, refuse duplicate ids (and,
    for training data, duplicate texts: a text twice would be its own negative)."""
    digest = hashlib.sha256(json.dumps(asdict(corpus) | {"path": None}, sort_keys=True).encode())
    ids: list[str] = []
    text_hashes: list[int] = []
    for key, text in tqdm(iter_corpus(corpus), desc=f"scan {Path(corpus.path).name}", unit="text", leave=False):
        encoded, key_bytes = text.encode("utf-8"), key.encode("utf-8")
        digest.update(len(key_bytes).to_bytes(8, "little") + key_bytes + len(encoded).to_bytes(8, "little") + encoded)
        text_hashes.append(int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little"))
        ids.append(key)
    if not ids:
        raise CorpusError(f"{corpus.path}: no texts")
    hashes = np.array(text_hashes, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if unique_texts and same.size:
        first, second = sorted(order[[same[0], same[0] + 1]].tolist())
        where = "line" if corpus.id_field is None and corpus.format == "texts" else "id"
        raise CorpusError(
            f"{corpus.path}: {where} {ids[first]} and {where} {ids[second]} have the same text "
            f"({same.size} duplicate(s) in all); remove duplicates before embedding"
        )
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(key for key in ids if key in seen or seen.add(key))
        raise CorpusError(f"{corpus.path}: the id {duplicate!r} is used by more than one record")
    return CorpusScan(rows=len(ids), fingerprint=digest.hexdigest(), ids=ids)


def iter_shards(corpus: CorpusConfig, shards: list[int], shard_rows: int) -> Iterator[tuple[int, list[str], list[str]]]:
    """``(shard, ids, texts)`` for each wanted shard, in order: shard ``k`` is rows ``[k*S, (k+1)*S)``."""
    wanted = set(shards)
    ids: list[str] = []
    texts: list[str] = []
    current = None
    for row, (key, text) in enumerate(iter_corpus(corpus)):
        shard = row // shard_rows
        if shard != current:
            if current in wanted:
                yield current, ids, texts
            current, ids, texts = shard, [], []
        if shard in wanted:
            ids.append(key)
            texts.append(text)
    if current in wanted:
        yield current, ids, texts
