"""The store: round trips, O(1) reads by index and id, checksums, incomplete stores."""

from __future__ import annotations

import numpy as np
import pytest

from jasper_tc.store import EmbeddingStore, Manifest, StoreError, merge_manifest, write_id_index, write_shard


def make_store(folder, rows=103, dim=6, shard_rows=20, dtype="float32"):
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(dtype)
    for index, start in enumerate(range(0, rows, shard_rows)):
        write_shard(folder, index, start, vectors[start : start + shard_rows])
    write_id_index(folder / "ids", [f"doc-{i}" for i in range(rows)])
    manifest = Manifest(
        name="t",
        source={"model": "x"},
        dimension=dim,
        dtype=dtype,
        corpus_fingerprint="abc",
        rows=rows,
        shard_rows=shard_rows,
        ids="ids",
    )
    merge_manifest(folder, manifest)
    return vectors


def test_round_trip_by_index_slice_and_id(tmp_path):
    vectors = make_store(tmp_path)
    store = EmbeddingStore(tmp_path)
    assert len(store) == 103 and store.dimension == 6
    np.testing.assert_array_equal(store[0], vectors[0])
    np.testing.assert_array_equal(store[-1], vectors[-1])
    np.testing.assert_array_equal(store[[5, 99, 40]], vectors[[5, 99, 40]])
    np.testing.assert_array_equal(store[18:23], vectors[18:23])
    for i in (0, 19, 20, 102):
        np.testing.assert_array_equal(store.by_id(f"doc-{i}"), vectors[i])
        assert store.ids.id(i) == f"doc-{i}"
    with pytest.raises(KeyError, match="'doc-x' is not in this store"):
        store.by_id("doc-x")
    with pytest.raises(IndexError, match="row 103 is out of range"):
        store[103]
    store.verify()


def test_reads_are_memory_mapped(tmp_path):
    make_store(tmp_path)
    store = EmbeddingStore(tmp_path)
    store[45]
    opened = [s for s in store._shards if s is not None]
    assert len(opened) == 1 and isinstance(opened[0], np.memmap)


def test_corrupt_shard_fails_verification(tmp_path):
    make_store(tmp_path)
    path = tmp_path / "shard-000002.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="shard-000002.npy does not match its checksum"):
        EmbeddingStore(tmp_path).verify()


def test_a_missing_shard_is_reported_by_rows(tmp_path):
    make_store(tmp_path)
    (tmp_path / "shard-000001.json").unlink()
    manifest = Manifest.load(tmp_path)
    with pytest.raises(StoreError, match="rows 20..39 have no shard"):
        merge_manifest(tmp_path, manifest)


def test_no_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no manifest.json"):
        EmbeddingStore(tmp_path)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(StoreError, match=r"duplicate id 'b' \(rows 1 and 3\)"):
        write_id_index(tmp_path, ["a", "b", "c", "b"])


def test_id_index_handles_many_collisions(tmp_path):
    ids = [str(i) for i in range(5000)]
    write_id_index(tmp_path, ids)
    from jasper_tc.store import IdIndex

    index = IdIndex(tmp_path)
    assert all(index.row(k) == i for i, k in enumerate(ids))
