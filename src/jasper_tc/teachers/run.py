"""Running teachers over a corpus into stores: resumable, one slice of shards per rank.

Shard ``k`` holds corpus rows ``[k*S, (k+1)*S)`` whatever the number of processes, and rank ``r`` of
``N`` takes the shards with ``k % N == r``; a shard is written atomically and counts once its sidecar
exists. A killed run started again (with any number of processes) redoes only unfinished shards and
ends with the same bytes as an uninterrupted run. Rank 0 then merges the manifests and builds the
id index and the fused store.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_json
from ..corpus import CorpusScan, iter_shards, scan_corpus
from ..encode import load
from ..ranks import Ranks
from ..store import (
    Manifest,
    StoreError,
    check_header,
    finished_shards,
    merge_manifest,
    write_id_index,
    write_shard,
)
from .config import TeachConfig, TeacherConfig
from .fusion import fuse_stores

__all__ = ["Ranks", "teach"]

IDS_FOLDER = "ids"
HEADER = "store.json"  # what a store is meant to hold, written before its first shard


def _teacher_source(teacher: TeacherConfig) -> dict:
    """What makes a teacher's vectors what they are (a resumed store must have been made the same way);
    the long-input settings only when they matter, so that stores made before them still resume."""
    skipped = {"name", "batch_size", "max_tokens_per_batch"}
    if teacher.long_inputs == "truncate":
        skipped |= {"long_inputs", "chunk_overlap"}
    return {key: value for key, value in asdict(teacher).items() if key not in skipped}


def run_teacher(config: TeachConfig, teacher: TeacherConfig, scan: CorpusScan, ranks: Ranks) -> None:
    folder = Path(config.output) / teacher.name
    folder.mkdir(parents=True, exist_ok=True)
    header = {
        "name": teacher.name,
        "source": _teacher_source(teacher),
        "corpus_fingerprint": scan.fingerprint,
        "rows": scan.rows,
        "shard_rows": config.shard_rows,
        "store_dtype": config.store_dtype,
    }
    check_header(folder / HEADER, header)
    shards = math.ceil(scan.rows / config.shard_rows)
    done = finished_shards(folder)
    todo = ranks.mine(shards, done)
    if not todo:
        return
    encoder = load(teacher.model, device=ranks.device(config.device), dtype=teacher.dtype)
    if teacher.dimension is not None and encoder.dimension != teacher.dimension:
        raise StoreError(
            f"teacher {teacher.name!r}: the model gives {encoder.dimension} dims, "
            f"the config says dimension: {teacher.dimension}"
        )
    header_path = folder / HEADER
    existing = json.loads(header_path.read_text(encoding="utf-8")) if header_path.is_file() else {}
    if existing.get("dimension", encoder.dimension) != encoder.dimension:
        raise StoreError(f"{folder}: its shards have {existing['dimension']} dims, the model gives {encoder.dimension}")
    atomic_write_json(header_path, header | {"dimension": encoder.dimension})
    progress = tqdm(
        total=len(todo),
        desc=f"{teacher.name} (rank {ranks.rank})",
        unit="shard",
        position=ranks.rank,
        disable=not ranks.is_main and ranks.world > 8,
    )
    for shard, _, texts in iter_shards(config.corpus, todo, config.shard_rows):
        parts = [
            encoder.encode(
                texts[start : start + config.chunk_rows],
                prompt_name=teacher.prompt_name,
                prompt=teacher.prompt,
                compression_ratio=teacher.compression_ratio,
                batch_size=teacher.batch_size,
                max_tokens_per_batch=teacher.max_tokens_per_batch,
                max_length=teacher.max_length,
                long_inputs=teacher.long_inputs,
                chunk_overlap=teacher.chunk_overlap,
                show_progress_bar=False,
            )
            for start in range(0, len(texts), config.chunk_rows)
        ]
        write_shard(folder, shard, shard * config.shard_rows, np.concatenate(parts).astype(config.store_dtype))
        progress.update(1)
    progress.close()


def finish_teacher(config: TeachConfig, teacher: TeacherConfig, scan: CorpusScan) -> Manifest:
    folder = Path(config.output) / teacher.name
    header = json.loads((folder / HEADER).read_text(encoding="utf-8"))
    manifest = Manifest(
        name=teacher.name,
        source=header["source"],
        dimension=header["dimension"],
        dtype=config.store_dtype,
        corpus_fingerprint=scan.fingerprint,
        rows=scan.rows,
        shard_rows=config.shard_rows,
        ids=f"../{IDS_FOLDER}",
    )
    return merge_manifest(folder, manifest)


def teach(config: TeachConfig) -> dict[str, Path]:
    """Run every teacher (this rank's shards), then on rank 0 merge, index ids, and fuse.

    Returns the store folders by name.
    """
    ranks = Ranks()
    scan = scan_corpus(config.corpus)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    for teacher in config.teachers:
        run_teacher(config, teacher, scan, ranks)
    folders = {t.name: output / t.name for t in config.teachers}
    if config.fusion is not None:
        folders[config.fusion.name] = output / config.fusion.name
    if not ranks.is_main:  # rank 0 finishes alone: no collective wait that could time out
        return folders
    shards = math.ceil(scan.rows / config.shard_rows)
    for teacher in config.teachers:  # other ranks may still be writing: wait on their sidecars
        while len(finished_shards(output / teacher.name)) < shards:
            time.sleep(1.0)
    write_ids(output / IDS_FOLDER, scan)
    manifests = {t.name: finish_teacher(config, t, scan) for t in config.teachers}
    if config.fusion is not None:
        fuse_stores(config, manifests)
    return folders


def write_ids(folder: Path, scan: CorpusScan) -> None:
    """The id index, rebuilt whenever the corpus (texts or ids) changed since it was built."""
    stamp = folder / "corpus.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == scan.fingerprint:
        return
    write_id_index(folder, scan.ids)
    atomic_write_json(stamp, {"fingerprint": scan.fingerprint, "rows": scan.rows})
