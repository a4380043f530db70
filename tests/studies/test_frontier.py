"""The design study at toy size: each design trained, evaluated and timed once; its points, frontier and bars
judged from the results; the page written from them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from jasper_tc.studies.frontier import DESIGNS, FrontierStudy, judge, points, run_frontier_study, write_page
from jasper_tc.studies.shapes import shape_name

COMMITTED = Path(__file__).parents[2] / "docs" / "compression-frontier" / "results.json"


def test_shapes_are_named_by_what_changes_the_work():
    base = {"compress_after_layer": 0, "compress_keep_ends": 0, "compress_positions": "renumber"}
    assert shape_name(base | {"compress_pool": "mean", "use_jasper_mlp": False}) == "input"
    assert shape_name(base | {"compress_keep_ends": 39, "use_jasper_mlp": True}) == "input-ends39-mlp"
    after = base | {"compress_after_layer": 1, "compress_keep_ends": 1, "compress_pool": "scored"}
    assert shape_name(after | {"compress_positions": "keep"}) == "after-1-ends1-keep-positions-scored"


def test_the_page_says_how_runs_were_timed_and_which_share_a_timing(tmp_path):
    results = json.loads(COMMITTED.read_text(encoding="utf-8"))
    results["speed_method"] = "documents of the length"
    for run in results["runs"].values():
        run["timed_as"] = shape_name(run["design"])
        run["speed_reference"] = results["original_speed"]
    page = tmp_path / "frontier.md"
    write_page(results, page)
    text = page.read_text()
    assert "Documents timed: documents of the length." in text
    shared = next(line for line in text.splitlines() if line.startswith("Runs that share a shape"))
    group = next(part for part in shared.split(": ", 1)[1].split("; ") if part.startswith("`input-ends39`"))
    assert "`wide-ends-no-mlp-token`" in group and "`wide-ends-no-mlp-token-x3`" in group
    assert "`base`" not in shared  # the only run with the release's pool and an MLP


@pytest.mark.slow
def test_designs_are_trained_timed_and_placed_on_the_frontier(tmp_path):
    chosen = tuple(v for v in DESIGNS if v.name in ("base", "after-1-no-mlp", "scored"))
    study = FrontierStudy(
        output=tmp_path / "runs", paragraphs=24, variants=chosen, eval_limit=8, ratios=(1.0, 0.33),
        base_overrides=("stages.steps=1", "stages.batch_size=4", "stages.checkpoint.every=0"),
        speed_lengths=(256,), speed_documents=2, diagnosis=False,
    )  # fmt: skip
    results = run_frontier_study(study, say=lambda _: None)
    assert set(results["runs"]) == {"base", "after-1-no-mlp", "scored"}
    assert results["runs"]["after-1-no-mlp"]["stages"]["fixed"]["max_length"] == 256
    found = points(results)
    assert {(p["run"], p["ratio"]) for p in found} >= {("base", 0.33), ("after-1-no-mlp", 1.0)}
    assert all(p["speed_up"] > 0 for p in found) and any(p["frontier"] for p in found)
    originals = [p for p in found if p["run"] == "original (training-free)" and p["ratio"] == 1.0]
    assert originals[0]["held_out_pct"] == pytest.approx(100.0) and originals[0]["speed_up"] == pytest.approx(1.0)
    verdicts = {v.claim: v for v in judge(results)}
    assert set(verdicts) == {"keeps 99% at 1.55x", "keeps 97% at 2x"}
    page = tmp_path / "frontier.md"
    assert write_page(results, page)["verdicts"] == results["verdicts"]
    assert (tmp_path / "frontier" / "frontier.png").stat().st_size > 10_000
    assert "`after-1-no-mlp`" in page.read_text()
    # --add: base again at one more ratio (evaluated again, not trained again), the rest kept as they were
    again = dataclasses.replace(study, variants=chosen[:1], earlier=results, ratios=(1.0, 0.5, 0.33))
    added = run_frontier_study(again, say=lambda _: None)
    assert added["runs"]["base"]["train_s"] == results["runs"]["base"]["train_s"]
    assert {r["compression_ratio"] for r in added["runs"]["base"]["results"]} == {1.0, 0.5, 0.33}
    found = {(p["run"], p["ratio"]) for p in points(added)}
    assert ("base", 0.5) in found and ("scored", 0.5) not in found and ("scored", 0.33) in found
    assert set(added["runs"]) == {"base", "after-1-no-mlp", "scored"}
    assert {v["name"] for v in added["variants"]} == {"base", "after-1-no-mlp", "scored"}
    # every run, kept or trained again, is timed as its shape in the same rounds as this sitting's original
    assert all(run["speed_reference"] == added["original_speed"] for run in added["runs"].values())
    assert added["runs"]["scored"]["timed_as"] == "input-ends1-scored-mlp"
    # nothing to train: the same runs, timed again (from the kept record, as nothing changed), nothing lost
    retimed = run_frontier_study(dataclasses.replace(again, variants=(), earlier=added), say=lambda _: None)
    assert retimed["runs"].keys() == added["runs"].keys() and retimed["original"] == added["original"]
    assert retimed["runs"]["base"]["speed"] == added["runs"]["base"]["speed"]


def test_the_windows_probe_is_a_table_of_shares(tmp_path):
    results = json.loads(COMMITTED.read_text(encoding="utf-8"))
    halved = [r | {"main_score": r["main_score"] / 2} for r in results["original"]]
    results["windows"] = {
        "ratios": [1.0],
        "runs": {
            "ends0-overlapping": {"keep_ends": 0, "windows": "overlapping", "results": results["original"]},
            "ends39-disjoint": {"keep_ends": 39, "windows": "disjoint", "results": halved},
        },
    }
    page = tmp_path / "frontier.md"
    write_page(results, page)
    text = page.read_text()
    assert "## Diagnosis, training-free: which windows the pool averages over" in text
    assert "| overlapping | 0 | 100.0 | 100.0 |" in text and "| disjoint | 39 | 50.0 | 50.0 |" in text


def test_the_windows_probe_measures_only_the_probes_an_earlier_study_lacks(tmp_path, monkeypatch):
    from jasper_tc.studies import windows

    measured = []

    def fake_suite(encoder, tasks, root, ratios, folder, model_name, options):
        compressor = encoder.backend.model.token_compressor
        measured.append((model_name, compressor.keep_ends, compressor.merge))
        return [{"task_name": "XQuAD-en", "compression_ratio": r, "main_score": 0.5} for r in ratios]

    monkeypatch.setattr("jasper_tc.evaluation.suite.run_suite", fake_suite)
    fixed = {windows.probe_name(e, w): {"keep_ends": e, "windows": w, "results": []} for e, w in windows.FIXED}
    probe = windows.run_windows_probe(tmp_path, say=lambda _: None, known={"limit": None, "runs": fixed})
    assert measured == [("ends1-merge", 1, True), ("ends39-merge", 39, True)]  # the rest known
    assert probe["runs"].keys() == {windows.probe_name(e, w) for e, w in windows.PROBES}
    assert probe["runs"]["ends0-disjoint"] == fixed["ends0-disjoint"]
