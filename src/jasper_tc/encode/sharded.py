"""Encoding a corpus too large for one process into a folder of shards: the one engine behind
``jasper-tc encode --output FOLDER`` and ``jasper-tc teach`` (every teacher store is such a folder).

Shard ``k`` holds corpus rows ``[k*S, (k+1)*S)`` whatever the number of processes, and rank ``r`` of ``N``
(``accelerate launch`` / ``torchrun``, on one machine or many sharing a folder) takes the shards with
``k % N == r``. A shard is written atomically, data first and its sidecar last, so it counts once its
sidecar exists: a killed run started again -- with any number of processes -- redoes only the shards
without one, and those found damaged (missing, cut short, changed: each rank checks its own, by size and
checksum), and ends with the same bytes as an uninterrupted run. The folder's header (``encoding.json``,
written before its first shard) says what it is meant to hold; a run made another way is refused rather
than mixed. Rank 0 then writes ``manifest.json`` (the source, every shard's rows and SHA-256), the last
file to appear.

``parquet`` shards hold ``id`` and ``embedding`` columns, ready to bulk-load into a vector database;
``npy`` shards make the project's embedding store (:class:`~jasper_tc.store.EmbeddingStore`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_json
from ..corpus import CorpusConfig, CorpusScan, iter_shards, scan_corpus
from ..ranks import Ranks
from ..store import (
    Manifest,
    StoreError,
    check_header,
    finished_shards,
    merge_manifest,
    repair_shards,
    write_id_index,
    write_shard,
)
from .encoder import Encoder
from .options import EncodeOptions

__all__ = ["HEADER", "ShardedFolder", "encode_corpus", "encode_shards", "finish_shards"]

HEADER = "encoding.json"  # what the folder is meant to hold, written before its first shard


@dataclass(frozen=True)
class ShardedFolder:
    """A folder of shards and what makes its vectors what they are."""

    path: Path
    source: dict  # the model, its dtype and the encode options' source: what a resumed run must match
    shard_rows: int = 10_000  # texts per shard: the unit of work, of resuming and of parallelism
    format: Literal["parquet", "npy"] = "parquet"
    dtype: Literal["float32", "float16"] = "float32"  # of the stored vectors
    # npy: the id index, relative to the folder ("ids": its own; "../ids": shared by a teacher run's stores)
    ids: str = "ids"
    name: str | None = None  # the manifest's name (default: the folder's)
    dimension: int | None = None  # expected: checked as soon as the model loads
    label: str = field(default="", compare=False)  # the progress bar's

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.shard_rows < 1:
            raise ValueError(f"shard_rows must be >= 1, got {self.shard_rows}")
        if self.format not in ("parquet", "npy"):
            raise ValueError(f"format {self.format!r}: use parquet (id + embedding) or npy (the embedding store)")
        if self.format == "parquet" and self.dtype != "float32":
            raise ValueError("parquet shards hold float32 vectors; use the npy format for float16")

    def header(self, scan: CorpusScan) -> dict:
        return {
            "source": self.source,
            "corpus_fingerprint": scan.fingerprint,
            "rows": scan.rows,
            "shard_rows": self.shard_rows,
            "format": self.format,
            "dtype": self.dtype,
        }

    def shards(self, scan: CorpusScan) -> int:
        return math.ceil(scan.rows / self.shard_rows)


def _check_folder(target: ShardedFolder, scan: CorpusScan) -> None:
    """Refuse to resume into a folder made from another corpus, model, settings or sharding."""
    target.path.mkdir(parents=True, exist_ok=True)
    if not (target.path / HEADER).is_file() and finished_shards(target.path):
        raise StoreError(f"{target.path} holds shards but no {HEADER}; use an empty or new output folder")
    check_header(target.path / HEADER, target.header(scan))


def _check_dimension(target: ShardedFolder, encoder: Encoder) -> None:
    name = target.name or target.path.name
    if target.dimension is not None and encoder.dimension != target.dimension:
        raise StoreError(
            f"{name!r}: the model gives {encoder.dimension} dims, the config says dimension: {target.dimension}"
        )
    header = target.path / HEADER
    existing = json.loads(header.read_text(encoding="utf-8")) if header.is_file() else {}
    if existing.get("dimension", encoder.dimension) != encoder.dimension:
        raise StoreError(
            f"{target.path}: its shards have {existing['dimension']} dims, the model gives {encoder.dimension}"
        )


def encode_shards(
    load_encoder: Callable[[str | None], Encoder],
    corpus: CorpusConfig,
    scan: CorpusScan,
    target: ShardedFolder,
    options: EncodeOptions,
    ranks: Ranks,
    *,
    device: str | None = None,
    chunk_rows: int = 4096,
    show_progress_bar: bool = True,
) -> None:
    """Embed this rank's unfinished shards of ``corpus`` into ``target``.

    ``load_encoder(device)`` builds the encoder, called only when this rank has work left.
    """
    _check_folder(target, scan)
    finished = finished_shards(target.path)
    mine = [info for k, info in finished.items() if k % ranks.world == ranks.rank]  # another rank checks its own
    damaged = repair_shards(target.path, mine, lambda text: tqdm.write(text, file=sys.stderr))
    todo = ranks.mine(target.shards(scan), set(finished) - damaged)
    if not todo:
        return
    encoder = load_encoder(ranks.device(device))
    _check_dimension(target, encoder)
    atomic_write_json(target.path / HEADER, target.header(scan) | {"dimension": encoder.dimension})
    progress = tqdm(
        total=sum(min(target.shard_rows, scan.rows - k * target.shard_rows) for k in todo),
        desc=f"{target.label or target.name or target.path.name} (rank {ranks.rank} of {ranks.world})",
        unit="text",
        position=ranks.rank,
        disable=not show_progress_bar or (not ranks.is_main and ranks.world > 8),
    )
    for shard, ids, texts in iter_shards(corpus, todo, target.shard_rows):
        parts = []
        for i in range(0, len(texts), chunk_rows):  # the bar moves per chunk: long texts take minutes a shard
            parts.append(encoder.encode(texts[i : i + chunk_rows], options, show_progress_bar=False))
            progress.update(len(parts[-1]))
        vectors = np.concatenate(parts).astype(target.dtype)
        write_shard(target.path, shard, shard * target.shard_rows, vectors, ids=ids, format=target.format)
    progress.close()


def finish_shards(target: ShardedFolder, scan: CorpusScan) -> Manifest:
    """Rank 0, after its own shards: wait for the other ranks' shards, then write the id index (a folder
    with its own) and the manifest, the last file to appear."""
    while len(finished_shards(target.path)) < target.shards(scan):  # other ranks may still be writing
        time.sleep(1.0)
    header = json.loads((target.path / HEADER).read_text(encoding="utf-8"))
    manifest = Manifest(
        name=target.name or target.path.name,
        source=header["source"],
        dimension=header["dimension"],
        dtype=target.dtype,
        corpus_fingerprint=scan.fingerprint,
        rows=scan.rows,
        shard_rows=target.shard_rows,
        ids=target.ids if target.format == "npy" else None,
        extra={"format": target.format},
    )
    if target.format == "npy" and target.ids == "ids":
        write_id_index(target.path / "ids", scan.ids)
    return merge_manifest(target.path, manifest)


def encode_corpus(
    load_encoder: Callable[[str | None], Encoder],
    corpus: CorpusConfig,
    target: ShardedFolder,
    options: EncodeOptions | None = None,
    *,
    device: str | None = None,
    chunk_rows: int = 4096,
    show_progress_bar: bool = True,
) -> Manifest | None:
    """Embed this rank's unfinished shards of ``corpus`` into ``target``; on rank 0, wait for the others and
    return the manifest (other ranks return None)."""
    ranks = Ranks()
    scan = scan_corpus(corpus, unique_texts=False)
    label = target.label or f"encode {Path(corpus.path).name}"
    encode_shards(
        load_encoder, corpus, scan, replace(target, label=label), options or EncodeOptions(), ranks,
        device=device, chunk_rows=chunk_rows, show_progress_bar=show_progress_bar,
    )  # fmt: skip
    if not ranks.is_main:  # rank 0 finishes alone: no collective wait that could time out
        return None
    return finish_shards(target, scan)
