"""Writing, finding and merging shards. A shard is final once its sidecar exists (written last)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_json
from .manifest import Manifest, ShardInfo, StoreError

__all__ = ["finished_shards", "merge_manifest", "shard_file", "write_shard"]


def shard_file(index: int) -> str:
    return f"shard-{index:06d}.npy"


def write_shard(folder: str | os.PathLike, index: int, start: int, vectors: np.ndarray) -> ShardInfo:
    """Write ``vectors`` as shard ``index`` (rows ``start..``); data first, then its sidecar."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors), allow_pickle=False)
    data = buffer.getvalue()
    info = ShardInfo(
        index=index, file=shard_file(index), start=start, rows=len(vectors), sha256=hashlib.sha256(data).hexdigest()
    )
    atomic_write_bytes(Path(folder) / info.file, data)
    atomic_write_json(Path(folder) / info.file.replace(".npy", ".json"), asdict(info))
    return info


def finished_shards(folder: str | os.PathLike) -> dict[int, ShardInfo]:
    """The shards whose sidecar exists (so whose data is complete), by index."""
    found = {}
    for sidecar in sorted(Path(folder).glob("shard-*.json")):
        info = ShardInfo(**json.loads(sidecar.read_text(encoding="utf-8")))
        if not (Path(folder) / info.file).is_file():
            raise StoreError(f"{sidecar}: its shard {info.file} is missing")
        found[info.index] = info
    return found


def merge_manifest(folder: str | os.PathLike, manifest: Manifest) -> Manifest:
    """Fill ``manifest.shards`` from the finished shards, check they cover every row, and save it."""
    shards = finished_shards(folder)
    manifest.shards = [shards[k] for k in sorted(shards)]
    manifest.check_complete(folder)
    manifest.save(folder)
    return manifest
