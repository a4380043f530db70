"""Multi-teacher fusion: project each teacher, L2-normalise, concatenate, normalise again.

``E_t = norm(norm(P_1 E_1) || norm(P_2 E_2) || ...)``; the release's target is Qwen3-Embedding-8B
``truncate:1024`` with QZhou-Embedding ``segment_sum:3x1024`` -> 2048 dims. Shard by shard, resumable;
fitted PCA projections are saved beside the fused store and named in its manifest.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes, atomic_write_json
from ..store import (
    EmbeddingStore,
    Manifest,
    StoreError,
    finished_shards,
    merge_manifest,
    repair_shards,
    write_shard,
)
from .projections import fit_pca, normalize_rows, parse_projection

if TYPE_CHECKING:
    from .config import TeachConfig

__all__ = ["fuse_stores"]


def _pca_for(name: str, store: EmbeddingStore, size: int, sample_rows: int, seed: int, folder: Path):
    """Fit (once) and save the PCA of one teacher; a later run with the same settings reuses the fit."""
    path = folder / f"pca-{name}-{size}-{sample_rows}-{seed}.npz"
    if path.is_file():
        saved = np.load(path)
        return saved["mean"], saved["components"]
    rows = np.random.default_rng(seed).choice(len(store), size=min(sample_rows, len(store)), replace=False)
    mean, components = fit_pca(store[np.sort(rows)], size)
    buffer = io.BytesIO()
    np.savez(buffer, mean=mean, components=components)
    atomic_write_bytes(path, buffer.getvalue())
    return mean, components


def _teacher_stores(output: Path, names: list[str], verify: bool) -> dict[str, EmbeddingStore]:
    """The teacher stores fusion reads, checked (with ``verify``, their checksums too) and made alike."""
    stores = {name: EmbeddingStore(output / name, verify=False) for name in names}
    if verify:
        for store in stores.values():
            store.verify(progress=True, label="verify teacher store")
    first = next(iter(stores.values())).manifest
    for name, store in stores.items():
        m = store.manifest
        if (m.corpus_fingerprint, m.rows, m.shard_rows) != (first.corpus_fingerprint, first.rows, first.shard_rows):
            raise StoreError(f"store {name!r} was made from another corpus or sharding than {first.name!r}")
    return stores


def fuse_stores(config: TeachConfig, manifests: dict[str, Manifest], *, verify: bool = True) -> Path:
    """The fused store (resumable: finished fused shards are kept, damaged ones written again). With
    ``verify``, every teacher store is checked (sizes, then checksums) before it is read."""
    fusion = config.fusion
    output = Path(config.output)
    folder = output / fusion.name
    folder.mkdir(parents=True, exist_ok=True)
    stores = _teacher_stores(output, list(fusion.projections), verify)
    first = next(iter(stores.values())).manifest
    projections = {name: parse_projection(spec) for name, spec in fusion.projections.items()}
    dims = {name: projections[name].output_dim(stores[name].dimension) for name in stores}
    pcas = {
        name: _pca_for(name, stores[name], p.size, fusion.pca_sample_rows, fusion.seed, folder)
        for name, p in projections.items()
        if p.kind == "pca"
    }
    source = {
        "projections": dict(fusion.projections),
        "teachers": {n: m.source for n, m in manifests.items()},
        "dimensions": dims,
    }
    origin = {
        "projections": source["projections"],
        "pca": [fusion.pca_sample_rows, fusion.seed],
        "teachers": {
            n: [s.manifest.corpus_fingerprint, [i.sha256 for i in s.manifest.shards]] for n, s in stores.items()
        },
    }
    header = folder / "store.json"
    stale = header.is_file() and json.loads(header.read_text(encoding="utf-8")).get("origin") != origin
    if stale and finished_shards(folder):
        raise StoreError(
            f"{folder} holds fused shards of other teachers or projections; "
            "use another fusion name or remove the folder"
        )
    atomic_write_json(header, {"name": fusion.name, "source": source, "origin": origin})
    finished = finished_shards(folder)
    damaged = repair_shards(folder, finished.values(), lambda text: tqdm.write(text, file=sys.stderr))
    done = set(finished) - damaged
    iterators = {name: store.iter_shards() for name, store in stores.items()}
    for index in tqdm(range(len(first.shards)), desc=f"fuse -> {fusion.name}", unit="shard"):
        parts = {name: next(iterator) for name, iterator in iterators.items()}
        if index in done:
            continue
        start = parts[next(iter(parts))][0]
        blocks = [projections[name].apply(vectors, pcas.get(name)) for name, (_, vectors) in parts.items()]
        write_shard(folder, index, start, normalize_rows(np.concatenate(blocks, axis=1)).astype(config.store_dtype))
    manifest = Manifest(
        name=fusion.name,
        source=source,
        dimension=sum(dims.values()),
        dtype=config.store_dtype,
        corpus_fingerprint=first.corpus_fingerprint,
        rows=first.rows,
        shard_rows=first.shard_rows,
        ids=first.ids,
        extra={"pca": sorted(p.name for p in folder.glob("pca-*.npz"))},
    )
    merge_manifest(folder, manifest)
    return folder
