"""Teacher generation: two real teachers and fusion, resume after kill, 2 processes, bad input."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from jasper_tc.configs import ConfigError
from jasper_tc.corpus import CorpusError
from jasper_tc.store import EmbeddingStore, StoreError
from jasper_tc.teachers import load_teach_config, parse_projection, teach
from jasper_tc.teachers.projections import fit_pca

from ..helpers import SHARED

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "paragraphs.jsonl"
    with gzip.open(SHARED / "data/unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", "rt") as source:
        lines = [next(source) for _ in range(96)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory, minilm_path) -> str:
    from jasper_tc import build_student

    model, tokenizer = build_student(minilm_path, embedding_dim=48, num_layers=1, seed=3)
    folder = tmp_path_factory.mktemp("tiny-teacher")
    model.save_pretrained(folder, tokenizer=tokenizer)
    return str(folder)


def write_config(folder: Path, corpus: Path, teachers: list[dict], **extra) -> Path:
    config = {
        "corpus": {"path": str(corpus), "id_field": "id"},
        "output": str(folder / "out"),
        "shard_rows": 16,
        "teachers": teachers,
        **extra,
    }
    path = folder / "teach.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.npy"))}


def test_two_teachers_fused_as_specified(tmp_path, corpus, minilm_path, tiny_teacher):
    config_path = write_config(
        tmp_path,
        corpus,
        [{"name": "minilm", "model": minilm_path, "dimension": 384}, {"name": "tiny", "model": tiny_teacher}],
        fusion={"projections": {"minilm": "truncate:256", "tiny": "pca:16"}, "pca_sample_rows": 64},
    )
    folders = teach(load_teach_config(config_path))
    minilm, tiny, fused = (EmbeddingStore(folders[name]) for name in ("minilm", "tiny", "fused"))
    assert (len(minilm), minilm.dimension, tiny.dimension, fused.dimension) == (96, 384, 48, 256 + 16)
    assert minilm.manifest.corpus_fingerprint == fused.manifest.corpus_fingerprint
    assert fused.manifest.source["projections"] == {"minilm": "truncate:256", "tiny": "pca:16"}

    import jasper_tc

    first = json.loads(corpus.read_text().splitlines()[10])
    expected = jasper_tc.load(minilm_path, device="cpu").encode(first["text"])
    np.testing.assert_allclose(minilm.by_id(first["id"]), expected, atol=1e-6)

    pca = np.load(next(folders["fused"].glob("pca-tiny-*.npz")))
    rows = [0, 17, 95]
    a = parse_projection("truncate:256").apply(minilm[rows])
    b = parse_projection("pca:16").apply(tiny[rows], (pca["mean"], pca["components"]))
    target = np.concatenate([a, b], axis=1)
    np.testing.assert_allclose(fused[rows], target / np.linalg.norm(target, axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fused[rows], axis=1), 1.0, atol=1e-6)
    for store in (minilm, tiny, fused):
        store.verify()


def run_teach(config: Path, *launcher: str) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    command = (
        [*launcher, "-m", "jasper_tc", "teach", str(config)]
        if launcher
        else [sys.executable, "-m", "jasper_tc", "teach", str(config)]
    )
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_killed_run_resumes_to_the_same_bytes(tmp_path, corpus, tiny_teacher):
    teachers = [{"name": "tiny", "model": tiny_teacher}]
    (tmp_path / "clean").mkdir()
    clean = write_config(tmp_path / "clean", corpus, teachers, shard_rows=8)
    assert run_teach(clean).wait(timeout=300) == 0

    (tmp_path / "killed").mkdir()
    killed = write_config(tmp_path / "killed", corpus, teachers, shard_rows=8)
    process = run_teach(killed)
    store = tmp_path / "killed" / "out" / "tiny"
    deadline = time.time() + 240
    while len(list(store.glob("shard-*.json"))) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(store.glob("shard-*.json")))
    assert 2 <= finished < 12, f"kill landed after {finished} of 12 shards"
    assert not (store / "manifest.json").exists()
    result = run_teach(killed)
    assert result.wait(timeout=300) == 0, result.stdout.read().decode()
    assert shard_bytes(store) == shard_bytes(tmp_path / "clean" / "out" / "tiny")
    resumed, uninterrupted = (
        json.loads((p / "manifest.json").read_text()) for p in (store, tmp_path / "clean" / "out" / "tiny")
    )
    assert resumed["shards"] == uninterrupted["shards"]


def test_two_processes_write_their_own_shards_and_merge(tmp_path, corpus, tiny_teacher):
    teachers = [{"name": "tiny", "model": tiny_teacher}]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = write_config(tmp_path / "one", corpus, teachers, fusion={"projections": {"tiny": "identity"}})
    double = write_config(tmp_path / "two", corpus, teachers, fusion={"projections": {"tiny": "identity"}})
    assert run_teach(single).wait(timeout=300) == 0
    launcher = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531")
    process = run_teach(double, *launcher)
    said = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 0, said[-3000:]
    assert "tiny (rank 1 of 2): 100%" in said and "48/48" in said  # rank 1 embedded its 3 of the 6 shards
    for name in ("tiny", "fused"):
        assert shard_bytes(tmp_path / "two" / "out" / name) == shard_bytes(tmp_path / "one" / "out" / name)
    assert len(EmbeddingStore(tmp_path / "two" / "out" / "fused")) == 96


def test_config_problems_are_reported_together(tmp_path, corpus):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "corpus": {"path": str(tmp_path / "missing.jsonl"), "text_feild": "text"},
                "output": str(tmp_path / "out"),
                "shard_rows": "many",
                "teachers": [{"name": "a", "model": "m"}, {"name": "a", "model": "m", "dimension": 100}],
            }
        )
    )
    with pytest.raises(ConfigError) as error:
        load_teach_config(path)
    message = str(error.value)
    assert "corpus.text_feild: unknown key" in message and "shard_rows: expected int, got str" in message

    path.write_text(
        yaml.safe_dump(
            {
                "corpus": {"path": str(tmp_path / "missing.jsonl")},
                "output": str(tmp_path / "out"),
                "teachers": [
                    {"name": "a", "model": "m"},
                    {"name": "a", "model": "m"},
                    {"name": "c", "model": "m", "dimension": 100},
                ],
                "fusion": {"projections": {"a": "identity", "c": "truncate:200", "b": "cut:3"}},
            }
        )
    )
    with pytest.raises(ConfigError) as error:
        load_teach_config(path)
    problems = error.value.problems
    assert any("corpus.path: no such file" in p for p in problems)
    assert any("the name 'a' is used twice" in p for p in problems)
    assert any("fusion.projections.b: no teacher" in p for p in problems)
    assert any("needs 200 dims, the teacher has 100" in p for p in problems)


def test_duplicate_texts_are_refused_before_any_model_loads(tmp_path):
    corpus = tmp_path / "dup.jsonl"
    rows = [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}, {"id": "c", "text": "one"}]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = write_config(tmp_path, corpus, [{"name": "t", "model": str(tmp_path / "no-such-model")}])
    with pytest.raises(CorpusError, match="id a and id c have the same text"):
        teach(load_teach_config(config))


def test_resuming_with_other_settings_is_refused(tmp_path, corpus, tiny_teacher):
    config = write_config(tmp_path, corpus, [{"name": "tiny", "model": tiny_teacher}])
    teach(load_teach_config(config))
    changed = write_config(tmp_path, corpus, [{"name": "tiny", "model": tiny_teacher, "encode": {"prompt": "x: "}}])
    with pytest.raises(StoreError, match="made with other settings.*store has .*'prompt': None.*'prompt': 'x: '"):
        teach(load_teach_config(changed))


def test_wrong_dimension_is_refused_before_encoding(tmp_path, corpus, tiny_teacher):
    config = write_config(tmp_path, corpus, [{"name": "tiny", "model": tiny_teacher, "dimension": 1024}])
    with pytest.raises(StoreError, match="the model gives 48 dims, the config says dimension: 1024"):
        teach(load_teach_config(config))
    assert not list((tmp_path / "out" / "tiny").glob("shard-*"))


def test_projections():
    vectors = np.arange(12, dtype=np.float32).reshape(2, 6) + 1
    np.testing.assert_allclose(parse_projection("truncate:2").apply(vectors)[0], np.array([1, 2]) / np.sqrt(5))
    summed = parse_projection("segment_sum:3x2").apply(vectors)[0]
    np.testing.assert_allclose(summed, np.array([9, 12]) / 15)
    assert parse_projection("identity").apply(vectors).shape == (2, 6)
    with pytest.raises(ValueError, match="unknown projection 'cut:3'"):
        parse_projection("cut:3")
    with pytest.raises(ValueError, match="needs 8 input dims"):
        parse_projection("segment_sum:4x2").output_dim(6)
    sample = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    _, components = fit_pca(sample, 3)
    again = fit_pca(sample, 3)
    np.testing.assert_array_equal(components, again[1])
    np.testing.assert_allclose(components @ components.T, np.eye(3), atol=1e-5)


def xquad_pairs(folder: Path, count: int = 60) -> tuple[Path, Path]:
    """Question -> paragraph pairs and the paragraph corpus of XQuAD (English)."""
    base = SHARED / "data/retrieval/xquad_en_zh"
    with gzip.open(base / "corpus-en.jsonl.gz", "rt") as handle:
        docs = {d["_id"]: d["text"] for d in map(json.loads, handle)}
    with gzip.open(base / "queries-en.jsonl.gz", "rt") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle)}
    qrels = [line.split("\t") for line in (base / "qrels/test.tsv").read_text().splitlines()[1:]]
    pairs = folder / "pairs.jsonl"
    pairs.write_text(
        "".join(json.dumps({"query": queries[q], "positive": docs[d]}) + "\n" for q, d, _ in qrels[:count])
    )
    corpus = folder / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs.values()))
    return pairs, corpus


def test_mined_negatives_respect_positives_window_and_margin(tmp_path, minilm_path):
    import jasper_tc
    from jasper_tc.corpus import iter_triples
    from jasper_tc.teachers.negatives import mine_negatives

    pairs, corpus = xquad_pairs(tmp_path)
    encoder = jasper_tc.load(minilm_path, device="cpu")
    output = tmp_path / "triples.jsonl"
    stats = mine_negatives(encoder, pairs, corpus, output, k=3, rank_window=(2, 30), margin=0.05)
    assert stats.pairs == 60 and stats.candidates == 240
    positives = {p for _, _, p, _ in iter_triples(pairs)}
    for _, query, positive, negatives in iter_triples(output):
        assert len(negatives) == 3 and positive not in negatives
        assert not set(negatives) & {p for _, q, p, _ in iter_triples(pairs) if q == query}
        scores = encoder.similarity(encoder.encode(query), encoder.encode([positive, *negatives]))[0]
        assert (scores[1:] < scores[0] - 0.05 + 1e-5).all()
    assert positives  # the pairs were read
    with pytest.raises(ValueError, match="rank window"):
        mine_negatives(encoder, pairs, corpus, output, k=5, rank_window=(3, 5))


def test_triples_texts_are_embedded_and_found_by_text_id(tmp_path, tiny_teacher):
    from jasper_tc.corpus import text_id

    pairs = tmp_path / "triples.jsonl"
    rows = [
        {"query": "q one", "positive": "p one", "negatives": ["n one", "p two"]},
        {"query": "q two", "positive": "p two", "negatives": ["n one"]},
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "teach.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "corpus": {"path": str(pairs), "format": "triples"},
                "output": str(tmp_path / "out"),
                "teachers": [{"name": "tiny", "model": tiny_teacher}],
            }
        )
    )
    store = EmbeddingStore(teach(load_teach_config(config))["tiny"])
    assert len(store) == 5  # distinct texts only: q one, p one, n one, p two, q two
    import jasper_tc

    expected = jasper_tc.load(tiny_teacher, device="cpu").encode("p two")
    np.testing.assert_allclose(store.by_id(text_id("p two")), expected, atol=1e-6)


def test_shipped_release_recipe_config_validates(corpus):
    config = load_teach_config(ROOT / "configs/teachers/jasper-600m.yaml", [f"corpus.path={corpus}"])
    assert [t.name for t in config.teachers] == ["qwen3-8b", "qzhou"]
    projections = {name: parse_projection(spec) for name, spec in config.fusion.projections.items()}
    dims = {t.name: projections[t.name].output_dim(t.dimension) for t in config.teachers}
    assert dims == {"qwen3-8b": 1024, "qzhou": 1024}  # 2048-d target


def test_duplicate_ids_are_refused_up_front(tmp_path):
    corpus = tmp_path / "ids.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in [("a", "x"), ("b", "y"), ("a", "z")]))
    config = write_config(tmp_path, corpus, [{"name": "t", "model": str(tmp_path / "no-such-model")}])
    with pytest.raises(CorpusError, match="the id 'a' is used by more than one record"):
        teach(load_teach_config(config))


def test_fusing_again_with_other_projections_is_refused(tmp_path, corpus, tiny_teacher):
    teachers = [{"name": "tiny", "model": tiny_teacher}]
    teach(load_teach_config(write_config(tmp_path, corpus, teachers, fusion={"projections": {"tiny": "identity"}})))
    changed = write_config(tmp_path, corpus, teachers, fusion={"projections": {"tiny": "truncate:8"}})
    with pytest.raises(StoreError, match="holds fused shards of other teachers or projections"):
        teach(load_teach_config(changed))
