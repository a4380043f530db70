"""Writing, finding, repairing and merging shards. A shard is final once its sidecar exists (written last);
a final shard found damaged on resume (missing, cut short, bytes changed) is removed and written again."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_json
from .integrity import Stamps, damaged_shard, size_problem
from .manifest import Manifest, ShardInfo, StoreError

__all__ = ["check_header", "finished_shards", "merge_manifest", "repair_shards", "shard_file", "write_shard"]


SHARD_FORMATS = ("npy", "parquet")


def shard_file(index: int, format: str = "npy") -> str:
    return f"shard-{index:06d}.{format}"


def write_shard(
    folder: str | os.PathLike,
    index: int,
    start: int,
    vectors: np.ndarray,
    *,
    ids: list[str] | None = None,
    format: str = "npy",
) -> ShardInfo:
    """Write ``vectors`` as shard ``index`` (rows ``start..``); data first, then its sidecar.

    ``npy``: the matrix (what :class:`EmbeddingStore` memory-maps). ``parquet``: ``id`` and ``embedding``
    columns, ready to bulk-load into a vector database (``ids`` required).
    """
    if format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(vectors), allow_pickle=False)
        data = buffer.getvalue()
    elif format == "parquet":
        if ids is None or len(ids) != len(vectors):
            raise ValueError(f"a parquet shard needs one id per row: {len(vectors)} rows, {len(ids or [])} ids")
        data = _parquet_bytes(ids, vectors)
    else:
        raise ValueError(f"shard format {format!r}: use one of {', '.join(SHARD_FORMATS)}")
    info = ShardInfo(
        index=index,
        file=shard_file(index, format),
        start=start,
        rows=len(vectors),
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
    )
    atomic_write_bytes(Path(folder) / info.file, data)
    stamps = Stamps(Path(folder))  # hashed as it was written: a resumed run need not hash it again
    stamps.mark(Path(folder) / info.file, info.sha256)
    stamps.save()
    atomic_write_json(Path(folder) / f"{Path(info.file).stem}.json", asdict(info))
    return info


def _parquet_bytes(ids: list[str], vectors: np.ndarray) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors)
    flat = pa.array(vectors.reshape(-1), type=pa.from_numpy_dtype(vectors.dtype))
    table = pa.table(
        {"id": pa.array(ids, type=pa.string()), "embedding": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])}
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def check_header(path: str | os.PathLike, header: dict) -> None:
    """Refuse to resume into a folder whose header file (what it was made from) differs from ``header``."""
    path = Path(path)
    if not path.is_file():
        return
    existing = json.loads(path.read_text(encoding="utf-8"))
    differing = [key for key in header if existing.get(key) != header[key]]
    if differing:
        details = "; ".join(f"{k}: store has {existing.get(k)!r}, this run gives {header[k]!r}" for k in differing)
        raise StoreError(f"{path.parent} was made with other settings ({details}); use another output folder")


def finished_shards(folder: str | os.PathLike) -> dict[int, ShardInfo]:
    """The shards whose sidecar exists (written after their data), by index; whether the data is still
    sound is :func:`repair_shards`'s question."""
    found = {}
    for sidecar in sorted(Path(folder).glob("shard-*.json")):
        try:
            info = ShardInfo(**json.loads(sidecar.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            raise StoreError(f"{sidecar} is not a shard's sidecar (damaged?); remove it and run again") from None
        found[info.index] = info
    return found


def repair_shards(folder: str | os.PathLike, shards: Iterable[ShardInfo], say: Callable[[str], None]) -> set[int]:
    """Of these finished shards, remove the damaged ones (sidecar first, then data) so that they are written
    again, saying which and why; return their indices. Sound ones are checked once (see ``integrity``)."""
    folder = Path(folder)
    stamps, removed = Stamps(folder), set()
    for info in shards:
        problem = damaged_shard(folder, info, stamps)
        if problem:
            say(f"{problem}: writing {info.file} again")
            (folder / f"{Path(info.file).stem}.json").unlink(missing_ok=True)
            (folder / info.file).unlink(missing_ok=True)
            stamps.forget(info.file)
            removed.add(info.index)
    stamps.save()
    return removed


def merge_manifest(folder: str | os.PathLike, manifest: Manifest) -> Manifest:
    """Fill ``manifest.shards`` from the finished shards, check they cover every row and have their sizes,
    and save it."""
    shards = finished_shards(folder)
    manifest.shards = [shards[k] for k in sorted(shards)]
    manifest.check_complete(folder)
    problems = [p for p in (size_problem(Path(folder), info) for info in manifest.shards) if p]
    if problems:
        raise StoreError(
            f"{folder}: damaged shard(s): {'; '.join(problems)}; run the same command again to rewrite them"
        )
    manifest.save(folder)
    return manifest
