"""The compression-training page from synthetic results: one row per run, shares, verdicts, the plot."""

from __future__ import annotations

from jasper_tc.studies.compression import VARIANTS
from jasper_tc.studies.compression_page import write_page

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
    page = tmp_path / "compression.md"
    write_page(results, page)
    text = page.read_text()
    # base: at 0.33 (88/90 + 76/80)/2 = 96.4%; at 0.1 (86/90 + 72/80)/2 = 92.8%
    assert "| base | `base` | everything trains" in text and "| 10.0 | 90.00 | 88.00 | 86.00 | 80.00 | 76.00 |" in text
    assert "| 100.0 | 96.4 | 92.8 | 79.00 |" in text
    assert "| reference | `original` | original, pooled training-free (no training) | – |" in text
    # mlp-only: (91.0 at 0.33 + 84.4 at 0.1) / 2; the base: (96.4 + 92.8) / 2
    assert "- **base**: 94.6%; two seeds land 0.0 points apart." in text
    assert "- **what trains**: `mlp-only` 87.7% — none is above the base by more than twice the seed spread." in text
    assert (
        "- **learning rate**: `lr-5e-5` 96.7% — above the base by more than twice the seed spread: `lr-5e-5`." in text
    )
    assert (tmp_path / "compression" / "quality_vs_ratio.png").stat().st_size > 10_000
