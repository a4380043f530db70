"""Running teachers over a corpus into stores: each teacher's store is a folder of npy shards written by
the corpus-encoding engine (:mod:`jasper_tc.encode.sharded`), so sharding by rank, resuming and the
header check are those of ``jasper-tc encode --output``. Rank 0 then writes the id index the stores
share, their manifests, and the fused store.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_json
from ..corpus import CorpusScan, scan_corpus
from ..encode import load
from ..encode.sharded import ShardedFolder, encode_shards, finish_shards
from ..ranks import Ranks
from ..store import Manifest, write_id_index
from .config import TeachConfig, TeacherConfig
from .fusion import fuse_stores

__all__ = ["teach"]

IDS_FOLDER = "ids"


def _store(config: TeachConfig, teacher: TeacherConfig) -> ShardedFolder:
    """Where a teacher's vectors go, and what makes them what they are."""
    return ShardedFolder(
        Path(config.output) / teacher.name,
        source=teacher.source(),
        shard_rows=config.shard_rows,
        format="npy",
        dtype=config.store_dtype,
        ids=f"../{IDS_FOLDER}",
        name=teacher.name,
        dimension=teacher.dimension,
    )


def teach(config: TeachConfig, *, verify: bool = True) -> dict[str, Path]:
    """Run every teacher (this rank's shards), then on rank 0 merge, index ids, and fuse (``verify``: the
    teacher stores are checked before fusion reads them; shards this run wrote are known sound).

    Returns the store folders by name.
    """
    ranks = Ranks()
    scan = scan_corpus(config.corpus)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    for teacher in config.teachers:
        encode_shards(
            lambda device, t=teacher: load(t.model, device=device, dtype=t.dtype, backend=t.backend),
            config.corpus, scan, _store(config, teacher), teacher.encode, ranks,
            device=config.device, chunk_rows=config.chunk_rows,
        )  # fmt: skip
    folders = {t.name: output / t.name for t in config.teachers}
    if config.fusion is not None:
        folders[config.fusion.name] = output / config.fusion.name
    if not ranks.is_main:  # rank 0 finishes alone: no collective wait that could time out
        return folders
    write_ids(output / IDS_FOLDER, scan)
    manifests: dict[str, Manifest] = {t.name: finish_shards(_store(config, t), scan) for t in config.teachers}
    if config.fusion is not None:
        fuse_stores(config, manifests, verify=verify)
    return folders


def write_ids(folder: Path, scan: CorpusScan) -> None:
    """The id index, rebuilt whenever the corpus (texts or ids) changed since it was built."""
    stamp = folder / "corpus.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == scan.fingerprint:
        return
    write_id_index(folder, scan.ids)
    atomic_write_json(stamp, {"fingerprint": scan.fingerprint, "rows": scan.rows})
