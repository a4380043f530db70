"""Damaged stores and encode folders are named, never read as data; the same command run again rewrites what
is damaged and ends with the bytes of an undamaged run; sound shards are hashed once."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import jasper_tc.store.integrity as integrity
from jasper_tc.store import EmbeddingStore, StoreError

from ..faults import FAULTS, folder_bytes, inject
from .test_store import make_store


@pytest.mark.parametrize("fault", FAULTS)
def test_a_damaged_shard_is_named_when_the_store_is_read(tmp_path, fault):
    vectors = make_store(tmp_path)  # shards of 20 rows, 6 float32 dims
    path = tmp_path / "shard-000001.npy"
    size = path.stat().st_size
    inject(path, fault)
    if fault == "flip":  # same size: the store opens, and the shard fails its checksum when first read
        store = EmbeddingStore(tmp_path)
        np.testing.assert_array_equal(store[3], vectors[3])  # other shards read as usual
        with pytest.raises(StoreError, match=r"shard-000001.npy does not match its checksum"):
            store[25]
        with pytest.raises(StoreError, match=r"1 damaged shard\(s\): .*shard-000001.npy does not match"):
            EmbeddingStore(tmp_path).verify()
        return
    expected = rf"shard-000001.npy has {size // 2} bytes, expected {size} \(20 rows\)"
    with pytest.raises(StoreError, match=expected if fault == "truncate" else r"shard-000001.npy is missing"):
        EmbeddingStore(tmp_path)


def test_older_stores_without_recorded_sizes_are_checked_from_their_headers(tmp_path):
    make_store(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for shard in manifest["shards"]:
        del shard["bytes"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    EmbeddingStore(tmp_path).verify()
    inject(tmp_path / "shard-000003.npy", "truncate")
    with pytest.raises(StoreError, match=r"shard-000003.npy has \d+ bytes, expected \d+ \(20 rows\)"):
        EmbeddingStore(tmp_path)


def test_a_sound_shard_is_hashed_once_until_it_changes_or_is_copied(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    make_store(tmp_path / "a")
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    (tmp_path / "a" / integrity.STAMPS).unlink()  # as if written elsewhere: nothing known here
    EmbeddingStore(tmp_path / "a").verify()
    assert len(hashed) == 6  # 103 rows in shards of 20
    EmbeddingStore(tmp_path / "a").verify()
    assert len(hashed) == 6  # a resumed run trusts what it verified
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # stamps copied too, but every file is a new one
    EmbeddingStore(tmp_path / "b").verify()
    assert len(hashed) == 12


def test_a_written_shard_needs_no_hashing(tmp_path, monkeypatch):
    make_store(tmp_path)
    monkeypatch.setattr(integrity, "sha256_file", lambda path: pytest.fail(f"{path} was hashed again"))
    EmbeddingStore(tmp_path).verify()


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "texts.jsonl"
    rows = [
        {"id": f"t{i}", "text": f"Text number {i} says something about shard {i // 10}." * (1 + i % 3)}
        for i in range(40)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def encode_folder(model: str, corpus, output, format: str):
    import jasper_tc
    from jasper_tc.corpus import CorpusConfig
    from jasper_tc.encode.sharded import ShardedFolder, encode_corpus

    target = ShardedFolder(output, source={"model": model}, shard_rows=10, format=format)
    config = CorpusConfig(path=str(corpus), id_field="id")
    return encode_corpus(lambda device: jasper_tc.load(model, device="cpu"), config, target, show_progress_bar=False)


@pytest.mark.parametrize("format", ["npy", "parquet"])
@pytest.mark.parametrize("fault", FAULTS)
def test_the_same_encode_again_rewrites_a_damaged_shard(tmp_path, texts, tiny_qwen3_checkpoint, capsys, fault, format):
    clean = tmp_path / "clean"
    encode_folder(tiny_qwen3_checkpoint, texts, clean, format)
    damaged = tmp_path / "damaged"
    shutil.copytree(clean, damaged)
    inject(damaged / f"shard-000002.{format}", fault)
    capsys.readouterr()
    encode_folder(tiny_qwen3_checkpoint, texts, damaged, format)
    said = capsys.readouterr().err
    assert f"shard-000002.{format}" in said and "writing shard-000002" in said
    assert "shard-000001" not in said  # sound shards are kept as they are
    assert folder_bytes(damaged) == folder_bytes(clean)
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (damaged, clean)]
    assert [m.pop("name") for m in manifests] == ["damaged", "clean"] and manifests[0] == manifests[1]


def test_the_same_teach_again_rewrites_damaged_teacher_and_fused_shards(tmp_path, texts, tiny_qwen3_checkpoint, capsys):
    import yaml

    from jasper_tc.teachers import load_teach_config, teach

    def run(folder):
        config = {
            "corpus": {"path": str(texts), "id_field": "id"},
            "output": str(folder),
            "shard_rows": 10,
            "teachers": [{"name": "tiny", "model": tiny_qwen3_checkpoint}],
            "fusion": {"projections": {"tiny": "identity"}},
        }
        (tmp_path / "teach.yaml").write_text(yaml.safe_dump(config))
        teach(load_teach_config(tmp_path / "teach.yaml"))

    run(tmp_path / "clean")
    shutil.copytree(tmp_path / "clean", tmp_path / "damaged")
    inject(tmp_path / "damaged" / "tiny" / "shard-000001.npy", "flip")
    inject(tmp_path / "damaged" / "fused" / "shard-000003.npy", "truncate")
    capsys.readouterr()
    run(tmp_path / "damaged")
    said = capsys.readouterr().err
    assert "tiny/shard-000001.npy does not match its checksum" in said and "fused/shard-000003.npy has" in said
    for name in ("tiny", "fused"):
        assert folder_bytes(tmp_path / "damaged" / name) == folder_bytes(tmp_path / "clean" / name)
