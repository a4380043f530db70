"""Reading a store: rows by index or id in O(1), through memory maps, never loading the whole store; never
reading a damaged shard as data (sizes checked when the store is opened, each shard's checksum the first
time it is read, or all of them at once with :meth:`EmbeddingStore.verify`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .ids import IdIndex
from .integrity import Stamps, damaged_shard, size_problem, verify_shards
from .manifest import Manifest, StoreError

__all__ = ["EmbeddingStore"]


class EmbeddingStore:
    """A finished store. ``store[i]``, ``store[[i, j]]``, ``store.by_id("x")``, ``len(store)``.

    ``verify=False`` skips the checksum of each shard at its first read (sizes are always checked): for a
    caller that verified the store already, or takes the risk knowingly.
    """

    def __init__(self, folder: str | os.PathLike, *, verify: bool = True) -> None:
        self.folder = Path(folder)
        self.manifest = Manifest.load(self.folder)
        if self.manifest.extra.get("format", "npy") != "npy":
            raise StoreError(
                f"{folder} holds {self.manifest.extra['format']} shards, for a vector database or pyarrow; "
                "an EmbeddingStore reads npy shards (jasper-tc encode --format npy)"
            )
        self.manifest.check_complete(self.folder)
        problems = [p for p in (size_problem(self.folder, info) for info in self.manifest.shards) if p]
        if problems:
            raise StoreError(
                f"{self.folder}: {len(problems)} damaged shard(s): {'; '.join(problems)}. Copy them again from the "
                "source, or run the command that made the store again: it rewrites damaged shards"
            )
        self._stamps = Stamps(self.folder) if verify else None
        self._shards: list[np.ndarray | None] = [None] * len(self.manifest.shards)
        self._ids: IdIndex | None = None

    def __repr__(self) -> str:
        m = self.manifest
        return f"EmbeddingStore({str(self.folder)!r}, name={m.name!r}, rows={m.rows}, dimension={m.dimension})"

    def __len__(self) -> int:
        return self.manifest.rows

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    def _shard(self, index: int) -> np.ndarray:
        array = self._shards[index]
        if array is None:
            info = self.manifest.shards[index]
            if self._stamps is not None:
                problem = damaged_shard(self.folder, info, self._stamps)
                if problem:
                    raise StoreError(f"{problem}; the store cannot be read as data until it is copied or made again")
                self._stamps.save()
            array = np.load(self.folder / info.file, mmap_mode="r")
            if array.shape != (info.rows, self.dimension):
                raise StoreError(
                    f"{self.folder / info.file}: shape {array.shape}, expected {(info.rows, self.dimension)}"
                )
            self._shards[index] = array
        return array

    def row(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(f"row {index} is out of range for a store of {len(self)} rows")
        index %= len(self)
        shard, offset = divmod(index, self.manifest.shard_rows)  # fixed-size shards: O(1)
        return np.asarray(self._shard(shard)[offset])

    def __getitem__(self, index: int | slice | np.ndarray | list[int]) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self.row(int(index))
        if isinstance(index, slice):
            index = range(*index.indices(len(self)))
        rows = np.asarray(index, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"rows out of range for a store of {len(self)} rows")
        rows %= max(len(self), 1)
        out = np.empty((len(rows), self.dimension), dtype=np.dtype(self.manifest.dtype))
        shards, offsets = np.divmod(rows, self.manifest.shard_rows)
        for shard in np.unique(shards).tolist():  # one fancy-indexed read per shard touched
            where = np.flatnonzero(shards == shard)
            out[where] = self._shard(shard)[offsets[where]]
        return out

    @property
    def ids(self) -> IdIndex:
        if self._ids is None:
            if self.manifest.ids is None:
                raise StoreError(f"{self.folder}: this store has no id index")
            self._ids = IdIndex(self.folder / self.manifest.ids)
        return self._ids

    def by_id(self, key: str) -> np.ndarray:
        return self.row(self.ids.row(key))

    def iter_shards(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, vectors)`` per shard, in order."""
        for index, info in enumerate(self.manifest.shards):
            yield info.start, self._shard(index)

    def verify(self, *, progress: bool = False, label: str = "verify") -> None:
        """Check every shard's SHA-256 against the manifest (reads the whole store once; shards verified
        before, and unchanged since, are not hashed again); a damaged one is a :class:`StoreError` naming it."""
        verify_shards(self.folder, self.manifest.shards, label=label, progress=progress)
