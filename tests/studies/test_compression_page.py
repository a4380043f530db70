"""The compression-training page from synthetic results: one row per run, shares, verdicts, the plot."""

from __future__ import annotations

import pytest

from jasper_tc.studies.compression import VARIANTS, judge, write_page

RATIOS = [1.0, 0.33, 0.1]


def records(scores: dict[str, list[float]]) -> list[dict]:
    return [
        {"task_name": task, "compression_ratio": ratio, "main_score": value / 100}
        for task, values in scores.items()
        for ratio, value in zip(RATIOS, values)
    ]


def test_the_page_puts_each_run_beside_the_original_and_names_the_best_per_question(tmp_path):
    original = {"XQuAD-en": [90, 80, 70], "Wiki-title2article-en": [80, 60, 50], "STSB-en": [80, 80, 80]}
    base = {"XQuAD-en": [90, 88, 86], "Wiki-title2article-en": [80, 76, 72], "STSB-en": [79, 79, 79]}
    mlp = {"XQuAD-en": [90, 85, 80], "Wiki-title2article-en": [80, 70, 64], "STSB-en": [80, 80, 80]}
    better = {"XQuAD-en": [90, 89, 88], "Wiki-title2article-en": [80, 78, 74], "STSB-en": [80, 80, 80]}
    results = {
        "study": {
            "model": "m", "paragraphs": 2000, "large_paragraphs": 20000, "ratios": RATIOS,
            "base_overrides": ["fixed.steps=100", "dynamic.steps=200"],
        },
        "variants": [
            {"name": v.name, "group": v.group, "change": v.change}
            for v in VARIANTS if v.name in ("base", "mlp-only", "lr-5e-5")
        ],
        "original": records(original),
        "runs": {
            "base": {"train_s": 600, "results": records(base)},
            "mlp-only": {"train_s": 300, "results": records(mlp)},
            "lr-5e-5": {"train_s": 300, "results": records(better)},
        },
        "timings_s": {"a": 1200.0},
    }  # fmt: skip
    verdicts = {v.claim: v for v in judge(results)}
    # the base: (96.4 at 0.33 + 92.8 at 0.1) / 2, where at 0.33 (88/90 + 76/80)/2 = 96.4%, at 0.1 92.8%
    trains, rate = verdicts["what trains"], verdicts["learning rate"]
    assert trains.figures["base_pct"] == pytest.approx(94.6, abs=0.05) and trains.figures["seed_spread"] == 0
    assert not trains.holds and trains.figures["kept_pct"] == {"mlp-only": pytest.approx(87.7, abs=0.05)}
    assert rate.holds and rate.figures["above_base"] == ["lr-5e-5"]
    assert rate.figures["kept_pct"]["lr-5e-5"] == pytest.approx(96.7, abs=0.05)

    page = tmp_path / "compression.md"
    assert write_page(results, page)["verdicts"] == [v.to_dict() for v in judge(results)]
    text = page.read_text()
    assert "| `base` | everything trains" in text and "| 10.0 | 90.00 | 88.00 | 86.00 | 80.00 | 76.00 |" in text
    assert "| 100.0 | 96.4 | 92.8 | 79.00 |" in text  # the base's shares at 1, 0.33, 0.1 and STS-B
    assert (tmp_path / "compression" / "quality_vs_ratio.png").stat().st_size > 10_000
