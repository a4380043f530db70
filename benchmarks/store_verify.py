"""What verifying a store costs, beside what reading it once costs, in one run.

A store of ``--rows`` x ``--dim`` rows (synthetic, the 600M recipe's fused 2048-d float16 by default, or
``--store FOLDER`` for an existing one) is read once sequentially (every shard into memory) and once in
training order (a seeded permutation, batches of ``--batch`` rows, as a stage reads its teacher rows);
then verified: sizes only (what opening a store does), every checksum from scratch (a store copied in from
elsewhere), and again (a resumed run: every shard stamped). Each figure is the median of ``--repeats``
runs with a warm page cache.

    python benchmarks/store_verify.py
    python benchmarks/store_verify.py --store quickstart-output/teacher/original --name store_verify-quickstart
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import cpu_description, table_head, table_row, write_results
from jasper_tc.store import EmbeddingStore, Manifest, merge_manifest, write_shard
from jasper_tc.store.integrity import STAMPS, size_problem


def build(folder: Path, rows: int, dim: int, shard_rows: int, dtype: str) -> Path:
    folder.mkdir(parents=True)
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(dtype)
    for index, start in enumerate(range(0, rows, shard_rows)):
        write_shard(folder, index, start, vectors[start : start + shard_rows])
    manifest = Manifest("synthetic", {}, dim, dtype, "synthetic", rows, shard_rows)
    merge_manifest(folder, manifest)
    return folder


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: the page cache holds the store, as it does for a run that just read or wrote it
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(folder: Path, batch: int, repeats: int) -> dict[str, float]:
    store = EmbeddingStore(folder, verify=False)
    order = np.random.default_rng(0).permutation(len(store))

    def sequential():
        return sum(float(np.load(folder / info.file)[0, 0]) for info in store.manifest.shards)

    def training_order():
        reader = EmbeddingStore(folder, verify=False)
        for start in range(0, len(order), batch):
            reader[order[start : start + batch]]

    def sizes():
        return [size_problem(folder, info) for info in store.manifest.shards]

    def cold():
        (folder / STAMPS).unlink(missing_ok=True)
        EmbeddingStore(folder).verify()

    def stamped():
        EmbeddingStore(folder).verify()

    return {
        "read once, sequential": median_seconds(sequential, repeats),
        "read once, training order": median_seconds(training_order, repeats),
        "open: sizes": median_seconds(sizes, repeats),
        "verify: every checksum": median_seconds(cold, repeats),
        "verify again: stamped": median_seconds(stamped, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=None, help="an existing store folder (default: synthetic)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--shard-rows", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=16, help="rows per read in training order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="store_verify-cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.store or build(Path(scratch) / "store", args.rows, args.dim, args.shard_rows, args.dtype)
        manifest = Manifest.load(folder)
        size = sum((folder / info.file).stat().st_size for info in manifest.shards)
        seconds = measure(folder, args.batch, args.repeats)
    read = seconds["read once, training order"]
    described = f"{manifest.rows:,} rows x {manifest.dimension} {manifest.dtype}, {len(manifest.shards)} shards"
    lines = [
        f"Store: {described}, {size / 1e6:,.0f} MB; {cpu_description()}; median of {args.repeats}, warm page cache.",
        "",
        *table_head("step", "s", "MB/s", "x read once (training order)", left=1),
    ]
    for step, value in seconds.items():
        lines.append(table_row(step, f"{value:.4f}", f"{size / 1e6 / value:,.0f}", f"{value / read:.3f}"))
    text = "\n".join(lines) + "\n"
    print(text)
    write_results(args.name, text, {"store": described, "bytes": size, "seconds": seconds})


if __name__ == "__main__":
    main()
