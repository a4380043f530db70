"""The reproduction page: every verdict is computed from the figures, and the page is rebuilt from results.json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jasper_tc.cli import app
from jasper_tc.recipes import LONG_TASKS
from jasper_tc.results import Verdict
from jasper_tc.studies import write_document
from jasper_tc.studies.claims import judge

RATIOS = [1.0, 0.8, 0.5, 0.33, 0.2, 0.1]
RUNS = [
    "teacher",
    "stage1",
    "stage2-start",
    "stage2",
    "stage3",
    "stage3-fixed-seed0",
    "stage3-dynamic-seed1",
    "stage3-fixed-seed1",
]


def _curve(values: list[float]) -> dict[str, dict[str, float]]:
    """The same score on every long task, one value per ratio (in points)."""
    return {task: {f"{r:g}": v / 100 for r, v in zip(RATIOS, values)} for task in LONG_TASKS}


def _results(**curves: list[float]) -> dict:
    flat = [50.0] * len(RATIOS)
    scores = {name: _curve(curves.get(name.replace("-", "_"), flat)) for name in [*RUNS, "stage4"]}
    plan = dict(
        paragraphs_per_language=10, pairs=5, max_length=64, epochs_stage1=1, epochs_stage2=1, steps_stage3=3,
        steps_stage4=2, eval_limit=20, eval_tasks=list(LONG_TASKS), ratios=RATIOS,
    )  # fmt: skip
    speed = [
        {"model": m, "length": 256, "ratio": r, "ms_per_doc": (20.0 if m == "teacher" else 10.0) * (0.5 + r / 2)}
        for m in ("teacher", "student")
        for r in RATIOS
    ]
    return {
        "study": {"plan": plan, "seeds": [0, 1], "speed_documents": 4, "speed_lengths": [256]},
        "labels": {name: name for name in scores},
        "scores": scores,
        "speed": speed,
        "timings_s": {"stage 1": 60.0, "stage 2": 60.0},
    }


def _verdicts(results: dict) -> dict[str, Verdict]:
    return {verdict.claim: verdict for verdict in judge(results)}


def test_verdicts_follow_the_figures(tmp_path):
    results = _results(
        stage1=[50, 49, 46, 40, 38, 36],
        stage2_start=[30, 30, 30, 30, 30, 30],
        stage2=[50, 50, 49, 48, 46, 44],
        stage3=[52, 52, 51, 50, 49, 48],
        stage3_dynamic_seed1=[52, 51, 51, 50, 49, 47],
        stage3_fixed_seed0=[50, 50, 51, 51, 45, 40],
        stage3_fixed_seed1=[50, 49, 51, 51, 45, 41],
        stage4=[50, 50, 49, 48, 47, 45],
    )
    verdicts = _verdicts(results)
    stage2 = verdicts["stage2-recovers"]
    assert stage2.holds and stage2.figures["recovered_pct"] == pytest.approx(80.0)  # (48 - 40) / (50 - 40)
    assert stage2.figures["start"] == pytest.approx(30.0) and not stage2.figures["beats_uncompressed"]
    at_01, at_08 = verdicts["dynamic-ahead-at-0.1"], verdicts["dynamic-ahead-at-0.8"]
    assert at_01.holds and (at_01.figures["dynamic"], at_01.figures["fixed"], at_01.figures["wins"]) == (47.5, 40.5, 2)
    assert (at_08.figures["dynamic"], at_08.figures["fixed"]) == (51.5, 49.5)
    flatter = verdicts["dynamic-flatter"]
    assert flatter.holds and (flatter.figures["spread_dynamic"], flatter.figures["spread_fixed"]) == (4.5, 10.5)
    assert flatter.figures["seed_apart"] == pytest.approx(1 / 3)
    assert not verdicts["stage4-better"].holds and verdicts["stage4-better"].figures["ahead"] == 0
    student = verdicts["student-keeps-at-0.33"]
    assert not student.holds and student.figures["keep_pct"] == pytest.approx(96.0)
    assert student.figures["per_task_pct"] == {task: pytest.approx(96.0) for task in LONG_TASKS}

    page = tmp_path / "docs" / "reproduction.md"
    written = write_document(results, page)
    assert written["verdicts"] == [verdict.to_dict() for verdict in judge(results)]  # the page's own results
    assert "| student | 256 | 10.0 ms (2.0×) |" in page.read_text()  # speed-up against the teacher at ratio 1
    for name in ("claims.png", "speed.png"):
        assert (tmp_path / "docs" / "reproduction" / name).stat().st_size > 10_000
    assert json.loads((tmp_path / "docs" / "reproduction" / "results.json").read_text()) == written


def test_a_failed_task_shows_as_missing_not_as_a_number(tmp_path):
    results = _results()
    results["scores"]["stage2"][LONG_TASKS[-1]]["0.33"] = None  # the task errored at this ratio
    page = tmp_path / "reproduction.md"
    write_document(results, page)
    row = next(line for line in page.read_text().splitlines() if line.startswith("| stage 2 (compressor"))
    assert row.split("|")[5].strip() == "–"  # the r=0.33 column


def test_document_only_needs_the_results_of_a_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short path keeps the message on one line of the error box
    result = CliRunner().invoke(app, ["reproduce", "--document-only", "--output", "none"])
    assert result.exit_code == 2
    assert "results.json does not exist" in result.output


@pytest.mark.parametrize("scale", ["huge"])
def test_an_unknown_scale_is_refused(scale, tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "--scale", scale, "--output", str(tmp_path)])
    assert result.exit_code == 2 and "--scale must be 'full' or 'smoke'" in result.output


def test_a_stage_below_its_start_on_the_held_out_task_is_named(tmp_path):
    results = _results(stage1=[50] * 6, stage2=[50, 50, 50, 49, 50, 50], stage3=[51] * 6, stage4=[52] * 6)
    held_out = _verdicts(results)["no-stage-below-its-start"]
    assert held_out.holds is False and held_out.figures["task"] == "Wiki-title2article-en"
    assert held_out.figures["below"] == [{"stage": "stage2", "ratio": 0.33, "change": pytest.approx(-1.0)}]
    page = tmp_path / "reproduction.md"
    assert write_document(results, page)["judged"]["chinese"] == []
    assert "## 6." not in page.read_text()  # no Chinese tasks in these results: no section for them

    for name in results["scores"]:
        results["scores"][name]["CSL-title2abstract"] = {f"{r:g}": 0.2 for r in RATIOS}
    assert write_document(results, page)["judged"]["chinese"] == ["CSL-title2abstract"]
    assert "| stage4 | 20.00 | 20.00 |" in page.read_text()
