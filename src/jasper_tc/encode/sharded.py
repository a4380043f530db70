"""Encoding a corpus too large for one process: shards over any number of processes and machines, resumable.

Shard ``k`` holds corpus rows ``[k*S, (k+1)*S)`` whatever the number of processes, and rank ``r`` of ``N``
(``accelerate launch`` / ``torchrun``, on one machine or many sharing a folder) takes the shards with
``k % N == r``. A shard is written atomically, data first and its sidecar last, so it counts once its
sidecar exists: a killed run started again -- with any number of processes -- redoes only the shards
without one and ends with the same bytes as an uninterrupted run. Rank 0 then writes ``manifest.json``
(the model, the settings, every shard's rows and SHA-256), the last file to appear.

``parquet`` shards hold ``id`` and ``embedding`` columns, ready to bulk-load into a vector database;
``npy`` shards make the project's embedding store (:class:`~jasper_tc.store.EmbeddingStore`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_json
from ..corpus import CorpusConfig, iter_shards, scan_corpus
from ..ranks import Ranks
from ..store import Manifest, StoreError, check_header, finished_shards, merge_manifest, write_id_index, write_shard
from .encoder import Encoder

__all__ = ["encode_corpus"]

HEADER = "encoding.json"  # what the folder is meant to hold, written before its first shard


def encode_corpus(
    load_encoder: Callable[[str | None], Encoder],
    corpus: CorpusConfig,
    output: str | Path,
    *,
    source: dict,
    shard_rows: int = 10_000,
    format: str = "parquet",
    chunk_rows: int = 4096,
    device: str | None = None,
    show_progress_bar: bool = True,
    **encode_kwargs,
) -> Manifest | None:
    """Embed this rank's unfinished shards of ``corpus`` into ``output``; on rank 0, wait for the others and
    return the manifest (other ranks return None).

    ``load_encoder(device)`` builds the encoder, called only when this rank has work left. ``source`` says
    what makes the vectors what they are (model, ratio, prompt, ...): a folder made with other settings,
    another corpus or another sharding is refused rather than mixed.
    """
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    if format not in ("parquet", "npy"):
        raise ValueError(f"format {format!r}: use parquet (id + embedding) or npy (the embedding store)")
    ranks = Ranks()
    output = Path(output)
    scan = scan_corpus(corpus, unique_texts=False)
    header = {
        "source": source,
        "corpus_fingerprint": scan.fingerprint,
        "rows": scan.rows,
        "shard_rows": shard_rows,
        "format": format,
    }
    output.mkdir(parents=True, exist_ok=True)
    _check_header(output, header)
    shards = math.ceil(scan.rows / shard_rows)
    todo = ranks.mine(shards, finished_shards(output))
    if todo:
        encoder = load_encoder(ranks.device(device))
        atomic_write_json(output / HEADER, header | {"dimension": encoder.dimension})
        encode_kwargs["show_progress_bar"] = False  # one bar over the shards instead
        progress = tqdm(
            total=sum(min(shard_rows, scan.rows - k * shard_rows) for k in todo),
            desc=f"encode {Path(corpus.path).name} (rank {ranks.rank} of {ranks.world})",
            unit="text",
            position=ranks.rank,
            disable=not show_progress_bar,
        )
        for shard, ids, texts in iter_shards(corpus, todo, shard_rows):
            parts = [
                encoder.encode(texts[i : i + chunk_rows], **encode_kwargs) for i in range(0, len(texts), chunk_rows)
            ]
            write_shard(output, shard, shard * shard_rows, np.concatenate(parts), ids=ids, format=format)
            progress.update(len(texts))
        progress.close()
    if not ranks.is_main:  # rank 0 finishes alone: no collective wait that could time out
        return None
    while len(finished_shards(output)) < shards:  # other ranks may still be writing
        time.sleep(1.0)
    return _finish(output, scan, format)


def _check_header(folder: Path, header: dict) -> None:
    """Refuse to resume into a folder made from another corpus, model, settings or sharding."""
    if not (folder / HEADER).is_file() and finished_shards(folder):
        raise StoreError(f"{folder} holds shards but no {HEADER}; use an empty or new output folder")
    check_header(folder / HEADER, header)


def _finish(folder: Path, scan, format: str) -> Manifest:
    header = json.loads((folder / HEADER).read_text(encoding="utf-8"))
    manifest = Manifest(
        name=folder.name,
        source=header["source"],
        dimension=header["dimension"],
        dtype="float32",
        corpus_fingerprint=scan.fingerprint,
        rows=scan.rows,
        shard_rows=header["shard_rows"],
        ids="ids" if format == "npy" else None,
        extra={"format": format},
    )
    if format == "npy":
        write_id_index(folder / "ids", scan.ids)
    return merge_manifest(folder, manifest)
