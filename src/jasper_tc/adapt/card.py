"""The adapted model's folder: the trained model copied into ``OUTPUT/model`` with its card and plot
(written by :mod:`jasper_tc.pages.card`), atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..atomic import atomic_write_text
from ..pages.card import card_text, draw_card_figure
from ..results import scores_by_task, share
from .source import SourceModel

__all__ = ["kept_shares", "write_card"]


def kept_shares(results: dict, ratios: list[float]) -> dict[str, float]:
    """Per ratio: the adapted model's score as a share of the original's at ratio 1, mean over tasks (%)."""
    original, adapted = scores_by_task(results["original"]), scores_by_task(results["adapted"])
    return {f"{r:g}": share(adapted, original, r, list(original)) for r in ratios}


def write_card(plan, source: SourceModel, trained: Path, summary: dict) -> Path:
    """Copy the trained model to ``OUTPUT/model`` (atomically) with ``README.md`` and its plot."""
    final = plan.output / "model"
    staging = plan.output / ".model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(trained, staging)
    draw_card_figure(summary, staging / "quality_vs_ratio.png", f"{source.name}, compression-ready")
    atomic_write_text(staging / "README.md", card_text(source.name, summary))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final
