"""Is a shard what its sidecar says? Sizes are checked whenever a store is opened (one ``stat`` per shard);
checksums before anything trusts a shard -- once: a verified shard is remembered in the folder's
``.verified.json``, keyed on the file's size, modification and change times and inode, so a resumed run
does not hash hundreds of GB again, while a rewritten or copied file (new times, new inode) is hashed
anew. A missing stamp file, or one that cannot be written (a read-only copy), only costs hashing again.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_json
from .manifest import ShardInfo, StoreError, sha256_file

__all__ = ["STAMPS", "Stamps", "damaged_shard", "size_problem", "verify_shards"]

STAMPS = ".verified.json"


def _expected_bytes(path: Path, info: ShardInfo) -> int | None:
    """What the shard's size must be: as its sidecar recorded it, else (older stores) from its own ``.npy``
    header and the sidecar's row count."""
    if info.bytes is not None:
        return info.bytes
    if path.suffix != ".npy":
        return None
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
            header = handle.tell()
    except (ValueError, OSError, SyntaxError):
        return -1  # not even a readable header: damaged
    per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return header + info.rows * per_row * np.dtype(dtype).itemsize


def size_problem(folder: Path, info: ShardInfo) -> str | None:
    """Why a shard's file is not what its sidecar says (missing, or the wrong size), or None."""
    path = folder / info.file
    if not path.is_file():
        return f"{path} is missing"
    actual, expected = path.stat().st_size, _expected_bytes(path, info)
    if expected == -1:
        return f"{path} has no readable .npy header ({actual} bytes)"
    if expected is not None and actual != expected:
        return f"{path} has {actual} bytes, expected {expected} ({info.rows} rows)"
    return None


class Stamps:
    """The shards of a folder already hashed and found as their sidecars say, by file state."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / STAMPS
        try:
            self.known: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.known = {}

    @staticmethod
    def _state(path: Path) -> dict:
        stat = path.stat()
        return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}

    def verified(self, path: Path, sha256: str) -> bool:
        return self.known.get(path.name) == {**self._state(path), "sha256": sha256}

    def mark(self, path: Path, sha256: str) -> None:
        self.known[path.name] = {**self._state(path), "sha256": sha256}

    def forget(self, name: str) -> None:
        self.known.pop(name, None)

    def save(self) -> None:
        with contextlib.suppress(OSError):  # a read-only folder: the next run hashes again
            atomic_write_json(self.path, self.known)


def damaged_shard(folder: Path, info: ShardInfo, stamps: Stamps) -> str | None:
    """Why a shard is damaged (missing, wrong size, wrong checksum), or None; a sound one is stamped."""
    problem = size_problem(folder, info)
    if problem is not None:
        return problem
    path = folder / info.file
    if stamps.verified(path, info.sha256):
        return None
    if sha256_file(path) != info.sha256:
        return f"{path} does not match its checksum (SHA-256 {info.sha256[:12]}... in its sidecar)"
    stamps.mark(path, info.sha256)
    return None


def verify_shards(folder: Path, shards: Iterable[ShardInfo], *, label: str = "verify", progress: bool = True) -> None:
    """Check every shard (size, then checksum unless stamped), several at once (hashing releases the GIL);
    damaged ones are a :class:`StoreError` naming every damaged file."""
    folder, shards = Path(folder), list(shards)
    stamps = Stamps(folder)
    bar = tqdm(total=len(shards), desc=f"{label} {folder.name}", unit="shard", disable=not progress)
    problems = []
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for problem in pool.map(lambda info: damaged_shard(folder, info, stamps), shards):
            if problem:
                problems.append(problem)
            bar.update(1)
    bar.close()
    stamps.save()
    if problems:
        raise StoreError(
            f"{folder}: {len(problems)} damaged shard(s): " + "; ".join(problems) + ". Copy them again from the "
            "source, or run the command that made the store again: it rewrites damaged shards"
        )
