"""The design study at toy size: each design trained, evaluated and timed once; its points, frontier and bars
judged from the results; the page written from them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from jasper_tc.studies.frontier import DESIGNS, FrontierStudy, judge, points, run_frontier_study, write_page

COMMITTED = Path(__file__).parents[2] / "docs" / "compression-frontier" / "results.json"


def test_a_run_added_in_a_later_sitting_is_timed_against_that_sittings_original(tmp_path):
    results = json.loads(COMMITTED.read_text(encoding="utf-8"))
    later = dict(results["runs"]["token"])  # the same run, as if timed when the machine ran twice as fast
    later["speed"] = [row | {"ms_per_doc": row["ms_per_doc"] / 2} for row in later["speed"]]
    reference = later.get("speed_reference") or results["original_speed"]  # the original timed beside it
    later["speed_reference"] = [row | {"ms_per_doc": row["ms_per_doc"] / 2} for row in reference]
    results["runs"]["token-later"] = later
    results["variants"].append(results["variants"][0] | {"name": "token-later"})
    found = {(p["run"], p["ratio"]): p for p in points(results)}
    for ratio in (0.5, 0.2):
        assert found[("token-later", ratio)]["speed_up"] == pytest.approx(found[("token", ratio)]["speed_up"])
    page = tmp_path / "frontier.md"
    write_page(results, page)
    sittings = next(line for line in page.read_text().splitlines() if "were timed in an earlier sitting" in line)
    assert "`token-later`" in sittings and "`wide-ends-no-mlp-token`" not in sittings  # timed with the original
    # runs of one shape timed together differ by the timing noise alone; one timed in another sitting is apart
    noise = [line for line in page.read_text().splitlines() if "have the same shape" in line]
    assert any(line.startswith("`wide-ends-no-mlp-token` and `wide-ends-no-mlp-token-x3`") for line in noise)
    assert not any("`token-later`" in line for line in noise)


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
    assert added["runs"]["scored"]["speed_reference"] == results["original_speed"]
    assert added["runs"]["base"]["speed_reference"] == added["original_speed"]
