"""Row lookup by id in O(1): an on-disk open-addressing hash table over a fixed-width id array.

``ids.npy`` holds the ids (UTF-8, fixed width) in row order; ``table.npy`` maps hash slots to rows
(-1 = empty, linear probing, at most half full). Both are memory-mapped: a lookup touches a few
slots and one id, never the whole index.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from .manifest import StoreError

__all__ = ["IdIndex", "write_id_index"]


def _hash(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def write_id_index(folder: str | os.PathLike, ids: Sequence[str]) -> None:
    """Build the index of ``ids`` (row order) in ``folder``; a duplicate id is an error naming it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoded = np.array([i.encode("utf-8") for i in ids], dtype=bytes)  # fixed width 'S<longest>'
    unique, counts = np.unique(encoded, return_counts=True)
    if (counts > 1).any():
        key = unique[counts > 1][0]
        rows = np.flatnonzero(encoded == key)[:2].tolist()
        raise StoreError(f"duplicate id {key.decode('utf-8')!r} (rows {rows[0]} and {rows[1]})")
    size = 1 << max(4, (2 * len(ids) - 1).bit_length())
    mask = size - 1
    table = np.full(size, -1, dtype=np.int64)
    slots = np.array([_hash(key) & mask for key in encoded], dtype=np.int64)
    pending = np.arange(len(ids), dtype=np.int64)
    while pending.size:  # vectorised linear probing: each round, the first claimant of an empty slot wins
        free = table[slots[pending]] == -1
        claimants = pending[free]
        taken, first = np.unique(slots[claimants], return_index=True)
        table[taken] = claimants[first]
        pending = np.setdiff1d(pending, claimants[first], assume_unique=True)
        slots[pending] = (slots[pending] + 1) & mask
    _save(folder / "ids.npy", encoded)
    _save(folder / "table.npy", table)


class IdIndex:
    """Memory-mapped id -> row lookup."""

    def __init__(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        if not (folder / "table.npy").is_file():
            raise StoreError(f"{folder}: no id index (table.npy)")
        self.ids = np.load(folder / "ids.npy", mmap_mode="r")
        self.table = np.load(folder / "table.npy", mmap_mode="r")
        self.mask = len(self.table) - 1

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, key: str) -> int:
        """The row of ``key``; a ``KeyError`` naming it if absent."""
        encoded = key.encode("utf-8")
        slot = _hash(encoded) & self.mask
        while (row := int(self.table[slot])) != -1:
            if self.ids[row] == encoded:
                return row
            slot = (slot + 1) & self.mask
        raise KeyError(f"id {key!r} is not in this store")

    def __contains__(self, key: object) -> bool:
        try:
            self.row(key)  # type: ignore[arg-type]
        except (KeyError, AttributeError):
            return False
        return True

    def id(self, row: int) -> str:
        return bytes(self.ids[row]).decode("utf-8")
