"""``jasper-tc adapt``: which models fit, how overrides route, the training texts, and the whole run."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from jasper_tc.adapt import AdaptPlan, UnsupportedModel, inspect_source, split_overrides
from jasper_tc.adapt.texts import write_training_texts


def test_a_mean_pooled_sentence_transformers_model_fits(minilm_path):
    source = inspect_source("sentence-transformers/all-MiniLM-L6-v2")  # the packaged model, by its hub name
    assert (source.path, source.hidden_size, source.max_length, source.prompts) == (minilm_path, 384, 256, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("cls", "it pools by cls_token; adapt needs mean pooling"),
        ("dense", "its module '2' is a Dense, which a Jasper-TC model has no place for"),
    ],
)
def test_models_the_pool_cannot_sit_in_front_of_are_refused_by_name(minilm_path, tmp_path, change, message):
    folder = tmp_path / "model"
    shutil.copytree(minilm_path, folder)
    if change == "cls":
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps(
                {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
            )
        )
    else:
        modules = json.loads((folder / "modules.json").read_text())
        modules[2] = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
        (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsupportedModel, match=message):
        inspect_source(folder)


def test_missing_folders_and_jasper_models_are_refused(tiny_qwen3_checkpoint, tmp_path):
    with pytest.raises(UnsupportedModel, match="no model folder there"):
        inspect_source(tmp_path / "nothing")
    with pytest.raises(UnsupportedModel, match="is a Jasper-TC model already"):
        inspect_source(tiny_qwen3_checkpoint)


def test_overrides_route_to_their_recipe_file():
    routed = split_overrides(["stages.steps=5", "fixed.optimizer.lr=1e-5", "teach.shard_rows=64"])
    assert routed == {
        "teach": ["shard_rows=64"], "fixed": ["steps=5", "optimizer.lr=1e-5"], "dynamic": ["steps=5"], "long": [],
        "segments": [], "teach-long": [],
    }  # fmt: skip
    for bad in ("steps=5", "stage.steps=5", "fixed.steps"):
        with pytest.raises(ValueError, match="write TARGET.KEY=VALUE with TARGET one of teach, fixed, dynamic, stages"):
            split_overrides([bad])


def test_training_texts_add_first_sentences_and_drop_duplicates(tmp_path):
    corpus = tmp_path / "c.jsonl"
    texts = [f"Document {i} says something long enough here. And then it goes on for a while." for i in range(8)]
    corpus.write_text("".join(json.dumps({"body": t}) + "\n" for t in [*texts, texts[0]]))
    plan = AdaptPlan(model="m", corpus=corpus, output=tmp_path, text_field="body", short_share=0.5, max_texts=6)
    counts = write_training_texts(plan, tmp_path / "texts.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "texts.jsonl").read_text().splitlines()]
    assert counts == {"documents": 6, "short_texts": 3}
    assert [r["text"] for r in rows[:6]] == texts[:6]
    assert [r["text"] for r in rows[6:]] == [f"Document {i} says something long enough here." for i in (0, 2, 4)]
    assert len({r["id"] for r in rows}) == len(rows)


def test_long_texts_are_as_many_of_each_length_with_the_short_texts_replayed(tmp_path):
    from jasper_tc.adapt.texts import write_long_texts

    texts = tmp_path / "texts.jsonl"
    rows = [{"id": f"doc-{i}", "text": f"paragraph {i}"} for i in range(40)] + [{"id": "short-0", "text": "short"}]
    texts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = AdaptPlan(model="m", corpus=texts, output=tmp_path)
    assert plan.long_groups[0] == plan.segment_groups[0] == 1  # the short texts again, so that both stages keep
    assert write_long_texts(texts, tmp_path / "long.jsonl", (1, 8), 6) == 6
    made = [json.loads(line)["text"] for line in (tmp_path / "long.jsonl").read_text().splitlines()]
    assert made[:3] == ["paragraph 0", "paragraph 1", "paragraph 2"]  # documents only, never the short texts
    assert made[3] == "\n".join(f"paragraph {i}" for i in range(8)) and made[4].startswith("paragraph 4\n")
    # groups longer than the corpus all give its whole text: once
    assert write_long_texts(texts, tmp_path / "short.jsonl", (50, 60), 4) == 1


def test_the_long_stages_train_what_fit_and_segments_read_by_default():
    """For a 256-token model: whole texts into the window (fit's default budget), then texts of a segment into
    half of it (the positions that long_inputs="segments" gives each segment), the teacher reading every text
    as far as the student does."""
    from jasper_tc.encode.long_inputs import _default_budget
    from jasper_tc.resources import CONFIGS

    def recipe(name: str) -> dict:
        return yaml.safe_load((CONFIGS / "adapt" / f"{name}.yaml").read_text())

    long, segments, teacher = recipe("long"), recipe("segments"), recipe("teach-long")
    assert long["compression"]["fit_positions"] == _default_budget("fit", 256, 80) == 256
    assert segments["compression"]["fit_positions"] == _default_budget("segments", 256, 80) == 128
    read = teacher["teachers"][0]["encode"]["max_length"]
    assert read >= long["data"]["max_length"] and read >= segments["data"]["max_length"] >= 2 * 256


@pytest.mark.slow
def test_adapt_runs_every_phase_resumes_and_writes_a_loadable_model_with_its_card(tmp_path):
    from sentence_transformers import SentenceTransformer

    import jasper_tc
    from jasper_tc.cli import app

    corpus = tmp_path / "corpus.jsonl"
    import gzip

    from jasper_tc.resources import DATA

    with gzip.open(DATA / "quickstart" / "paragraphs.jsonl.gz", "rt") as handle:
        corpus.write_text("".join(next(handle) for _ in range(60)))
    output = tmp_path / "out"
    command = ["adapt", "--model", "sentence-transformers/all-MiniLM-L6-v2", "--corpus", str(corpus)]
    command += ["--output", str(output), "--scale", "smoke"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "| Wiki-title2article-en |" in result.output
    card = (output / "model" / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card and "## Closeness to the original" in card
    assert (output / "model" / "quality_vs_ratio.png").stat().st_size > 10_000
    summary = json.loads((output / "summary.json").read_text())
    assert summary["texts"]["documents"] == 40 and summary["stages"]["fixed"]["steps"] == 2
    assert {row["ratio"] for row in summary["closeness"]} == {1.0, 0.33}
    # a smoke run measures closeness on its cut suite (20 queries, 40 documents per retrieval task), and says so
    assert summary["closeness_texts"] == {"short": 40, "long": 80}
    # evaluation in dtype auto, training in mixed_precision auto: what each ran in is on the card
    precision = summary["precision"]["adapted"]
    assert precision in ("fp32", "bf16") and f"tokens at most, in {precision};" in card
    if summary["stages"]["fixed"]["mixed_precision"] == "bf16":
        assert "; bf16 autocast." in card
    original, adapted = (
        {(r["task_name"], r["compression_ratio"]): r["main_score"] for r in summary["results"][k]}
        for k in ("original", "adapted")
    )
    kept = sum(adapted[t, 0.33] / original[t, 1.0] for t, _ in original if _ == 1.0) / 3
    assert summary["kept_pct"]["0.33"] == pytest.approx(100 * kept)  # the card's headline figure
    # the adapted model loads both ways and compresses on request
    texts = ["a short query", "A long document about token compression. " * 30]
    ours = jasper_tc.load(str(output / "model"), device="cpu").encode(texts, compression_ratio=0.33)
    theirs = SentenceTransformer(str(output / "model"), device="cpu").encode(texts, compression_ratio=0.33)
    assert abs(ours - theirs).max() < 1e-5

    # run again with the long stages: the finished phases are kept, the two long stages train from the dynamic
    # stage's model, and the card describes them
    trained = (output / "train" / "dynamic" / "model" / "model.safetensors").stat().st_mtime
    again = CliRunner().invoke(app, [*command, "--long-documents"])
    assert again.exit_code == 0, again.output
    assert (output / "train" / "dynamic" / "model" / "model.safetensors").stat().st_mtime == trained
    stages = json.loads((output / "summary.json").read_text())["stages"]
    assert [stages[s]["compression"]["fit_positions"] for s in ("long", "segments")] == [256, 128]
    card = (output / "model" / "README.md").read_text()
    assert "Stage `segments`: 2 steps" in card and 'long_inputs="segments", max_length=32768' in card
    assert "token_budget=256, late_chunking=True" in card and "late_chunk_length=32, return_segments=True" in card


def test_an_unknown_dtype_is_named_before_anything_runs(tmp_path):
    from jasper_tc.adapt import AdaptPlan

    with pytest.raises(ValueError, match="unknown dtype 'bf15'"):
        AdaptPlan(model="m", corpus=tmp_path / "c.jsonl", output=tmp_path / "out", dtype="bf15")


def test_a_design_is_the_recipe_with_its_overrides_and_an_unknown_one_is_named(monkeypatch, tmp_path):
    import jasper_tc.adapt as adapt_package
    from jasper_tc.adapt.designs import DESIGNS
    from jasper_tc.cli import app
    from jasper_tc.studies.frontier import DESIGNS as STUDIED

    assert [v.name for v in STUDIED] == list(DESIGNS)  # the study measures every design adapt offers
    seen = {}

    def capture(plan, say):
        seen["plan"] = plan
        raise ValueError("stopped by the test")

    monkeypatch.setattr(adapt_package, "run_adapt", capture)
    args = ["adapt", "--model", "m", "--corpus", str(tmp_path / "c.jsonl"), "--output", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--design", "token", "dynamic.steps=5"])
    assert result.exit_code == 2 and "stopped by the test" in result.output
    plan = seen["plan"]
    assert plan.overrides == (*DESIGNS["token"].overrides, "dynamic.steps=5") and plan.extra["design"] == "token"
    result = CliRunner().invoke(app, args)  # no --design: the shipped recipe as its files have it
    assert seen["plan"].overrides == () and seen["plan"].extra["design"] == "merge-ends39"
    result = CliRunner().invoke(app, [*args, "--design", "fastest"])
    assert result.exit_code == 2 and "unknown design 'fastest'; one of: merge-ends39, " in result.output


def test_the_shipped_recipe_is_the_default_design_and_base_restores_the_earlier_one():
    from jasper_tc.adapt.designs import DESIGNS
    from jasper_tc.configs import apply_overrides
    from jasper_tc.resources import CONFIGS

    def stage(name: str, design: str) -> dict:
        data = yaml.safe_load((CONFIGS / "adapt" / f"{name}.yaml").read_text(encoding="utf-8"))
        ours = [o.split(".", 1)[1] for o in DESIGNS[design].overrides if o.split(".", 1)[0] in (name, "stages")]
        return apply_overrides(data, ours)

    assert DESIGNS["merge-ends39"].overrides == ()
    fixed = stage("fixed", "merge-ends39")
    assert not fixed["start"]["insert_jasper_mlp"] and fixed["start"]["compress_keep_ends"] == 39
    assert fixed["start"]["compress_pool"] == "merge"
    assert fixed["loss"] == {"cosine": 10, "token": 10} and "lr_by_pattern" not in fixed["optimizer"]
    assert stage("fixed", "merge-ends1")["start"]["compress_keep_ends"] == 1
    disjoint = stage("fixed", "wide-ends-disjoint")["start"]
    assert (disjoint["compress_pool"], disjoint["compress_windows"]) == ("mean", "disjoint")
    overlapping = stage("fixed", "wide-ends-no-mlp-token")["start"]
    assert (overlapping["compress_pool"], overlapping["compress_windows"]) == ("mean", "overlapping")
    base = stage("fixed", "base")
    assert (base["start"]["compress_pool"], base["start"]["compress_windows"]) == ("mean", "overlapping")
    assert base["start"]["insert_jasper_mlp"] and base["start"]["mlp_init"] == "residual"
    assert base["start"]["compress_keep_ends"] == 0 and base["loss"]["token"] == 0
    assert base["optimizer"]["lr_by_pattern"] == {"jasper_mlp.*": 1.0e-3}
    assert stage("dynamic", "base")["optimizer"]["lr_by_pattern"] == {"jasper_mlp.*": 1.0e-3}
