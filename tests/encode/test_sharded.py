"""Corpus encoding into a folder of shards: two processes equal one, a killed run resumes to the same bytes."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import jasper_tc
from jasper_tc.store import EmbeddingStore, StoreError

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """120 shipped paragraphs with their ids, one duplicated text (a real corpus has them)."""
    path = tmp_path_factory.mktemp("corpus") / "paragraphs.jsonl"
    with gzip.open(ROOT / "data/quickstart/paragraphs.jsonl.gz", "rt", encoding="utf-8") as source:
        rows = [json.loads(next(source)) for _ in range(120)]
    rows[7]["text"] = rows[3]["text"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_encode(model: str, corpus: Path, output: Path, *extra: str, launcher: tuple[str, ...] = ()):
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    command = [*(launcher or (sys.executable,)), "-m", "jasper_tc", "encode", "--model", model]
    command += ["--input", str(corpus), "--output", str(output), "--id-field", "id", "--shard-rows", "8", *extra]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen) -> str:
    output = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 0, output[-3000:]
    return output


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*"))}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, corpus, tiny_qwen3_checkpoint) -> Path:
    """An uninterrupted one-process run, batch 1 (slow enough for a kill to land between shards)."""
    output = tmp_path_factory.mktemp("one") / "vectors"
    finish(run_encode(tiny_qwen3_checkpoint, corpus, output, "--batch-size", "1"))
    return output


def test_two_processes_write_the_rows_one_process_writes(tmp_path, corpus, tiny_qwen3_checkpoint, one_process):
    launcher = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541")
    said = finish(run_encode(tiny_qwen3_checkpoint, corpus, tmp_path / "two", "--batch-size", "1", launcher=launcher))
    # each process took its own shards (rank 1 had 7 of the 15), and only rank 0 reports the whole
    assert "(rank 1 of 2): 100%" in said and "(rank 0 of 2): 100%" in said and "of 1)" not in said
    assert "56/56" in said and said.count("120 embeddings of dimension 32") == 1

    one, two = shard_bytes(one_process), shard_bytes(tmp_path / "two")
    assert len(one) == 2 * 15  # 15 parquet shards and their sidecars
    assert one == two
    table = pq.read_table(sorted((tmp_path / "two").glob("*.parquet")))  # as DuckDB's read_parquet('out/*.parquet')
    ids = [json.loads(line)["id"] for line in corpus.read_text().splitlines()]
    assert sorted(table.column("id").to_pylist()) == sorted(ids)
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["rows"] == 120 and manifest["dimension"] == 32 and manifest["extra"] == {"format": "parquet"}

    first = pq.read_table(one_process / "shard-000000.parquet")
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()[:8]]
    expected = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu").encode(texts)
    np.testing.assert_allclose(np.stack(first.column("embedding").to_numpy(zero_copy_only=False)), expected, atol=1e-5)
    assert first.column("id").to_pylist() == ids[:8]


def test_a_killed_run_resumes_to_the_same_bytes(tmp_path, corpus, tiny_qwen3_checkpoint, one_process):
    killed = tmp_path / "killed"
    process = run_encode(tiny_qwen3_checkpoint, corpus, killed, "--batch-size", "1")
    deadline = time.time() + 240
    while len(list(killed.glob("shard-*.json"))) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(killed.glob("shard-*.json")))
    assert 2 <= finished < 15, f"the kill landed after {finished} of 15 shards"
    assert not (killed / "manifest.json").exists()

    finish(run_encode(tiny_qwen3_checkpoint, corpus, killed, "--batch-size", "1"))
    assert shard_bytes(killed) == shard_bytes(one_process)
    resumed, uninterrupted = (json.loads((p / "manifest.json").read_text()) for p in (killed, one_process))
    assert resumed.pop("name") == "killed" and uninterrupted.pop("name") == "vectors"  # the folders' names
    assert resumed == uninterrupted


def test_npy_shards_make_an_embedding_store_readable_by_id(tmp_path, corpus, tiny_qwen3_checkpoint):
    output = tmp_path / "store"
    finish(run_encode(tiny_qwen3_checkpoint, corpus, output, "--shard-format", "npy", "--compression-ratio", "0.5"))
    store = EmbeddingStore(output)
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    expected = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu").encode([rows[100]["text"]], compression_ratio=0.5)
    np.testing.assert_allclose(store.by_id(rows[100]["id"]), expected[0], atol=1e-5)
    store.verify()


def test_a_folder_made_otherwise_is_refused_not_mixed(tmp_path, corpus, tiny_qwen3_checkpoint, one_process):
    output = tmp_path / "out"
    shutil.copytree(one_process, output)
    again = run_encode(tiny_qwen3_checkpoint, corpus, output, "--compression-ratio", "0.5")
    message = again.communicate(timeout=300)[0].decode()
    assert again.returncode == 2
    assert "was made with other settings (source:" in message and "use another output folder" in message
    with pytest.raises(StoreError, match="parquet shards"):
        EmbeddingStore(output)
