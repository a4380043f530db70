"""The manifest of an embedding store: what the vectors are, where they came from, and their shards.

A store is a folder: ``manifest.json`` plus ``shard-NNNNNN.npy`` files, each covering a fixed range of
corpus rows (``shard_rows`` per shard), each with a ``.json`` sidecar holding its row count and
SHA-256. Sidecars are written after their shard, atomically, so a shard counts as finished exactly
when its sidecar exists; the manifest is assembled from the sidecars (a merge, never a copy).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_json

__all__ = ["Manifest", "ShardInfo", "StoreError", "sha256_file"]

MANIFEST = "manifest.json"


class StoreError(ValueError):
    """A store is missing, incomplete, corrupt or does not match what was asked; the message says which."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard: rows ``[start, start + rows)`` of the corpus, in ``file``, with its checksum."""

    index: int
    file: str
    start: int
    rows: int
    sha256: str
    bytes: int | None = None  # the file's size (None in stores written before it was recorded)


@dataclass
class Manifest:
    """Everything needed to trust and read a store without opening its shards."""

    name: str  # e.g. the teacher's name in the config, or "fused"
    source: dict[str, Any]  # the teacher (model id, revision, prompt, max length, dtype, ratio) or the fusion
    dimension: int
    dtype: str  # numpy dtype name of the shards
    corpus_fingerprint: str
    rows: int
    shard_rows: int
    shards: list[ShardInfo] = field(default_factory=list)
    ids: str | None = None  # relative path of the id index folder, if the store can be read by id
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a fitted projection's files

    def save(self, folder: str | os.PathLike) -> None:
        atomic_write_json(Path(folder) / MANIFEST, asdict(self))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise StoreError(f"{folder}: no {MANIFEST}; the store is unfinished or this is not a store")
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["shards"] = [ShardInfo(**shard) for shard in raw.get("shards", [])]
        return cls(**raw)

    def check_complete(self, folder: str | os.PathLike) -> None:
        """Every row is covered by exactly one shard, in order."""
        expected = 0
        for shard in self.shards:
            if shard.start != expected:
                raise StoreError(f"{folder}: rows {expected}..{shard.start - 1} have no shard")
            expected += shard.rows
        if expected != self.rows:
            raise StoreError(f"{folder}: shards cover {expected} rows, the manifest says {self.rows}")


def sha256_file(path: str | os.PathLike, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()
