"""Markdown tables and number formats shared by every page."""

from __future__ import annotations

import math

from ..results import Scores, mean_over, ratio_key

__all__ = ["fmt", "markdown_table", "results_table", "verdict_words"]


def fmt(value: float | None, digits: int = 2) -> str:
    """A score or figure as a page shows it; a missing one as a dash."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def verdict_words(holds: bool | None) -> str:
    return {True: "**holds**", False: "**does not hold**"}.get(holds, "**cannot be judged**")


def markdown_table(head: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A Markdown table; the first ``text_columns`` columns left-aligned, the rest (numbers) right-aligned."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * text_columns + "---:|" * (len(head) - text_columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def curve_row(label: str, scores: Scores, ratios: list[float], tasks: list[str]) -> list[str]:
    """A row of a run's mean score over ``tasks``, one cell per ratio."""
    return [label, *(fmt(mean_over(scores, r, tasks)) for r in ratios)]


def task_cells(scores: Scores, task: str, ratios: list[float]) -> list[str]:
    """One task's scores x 100 at each ratio; a failed one as ``error``."""
    cells = []
    for ratio in ratios:
        value = scores.get(task, {}).get(ratio_key(ratio), "missing")
        cells.append("–" if value == "missing" else "error" if value is None else f"{100 * value:.2f}")
    return cells


def _label(record: dict, with_model: bool) -> str:
    ratio = f"r={record['compression_ratio']:g}"
    return f"{record['model']} {ratio}" if with_model else ratio


def results_table(records: list[dict], with_model: bool = False) -> str:
    """An evaluation's records: a row per task, a column per (model,) ratio, main scores x 100, and the mean."""
    columns = list(dict.fromkeys(_label(r, with_model) for r in records))
    cell = {(r["task_name"], _label(r, with_model)): r for r in records}
    rows = []
    for task in dict.fromkeys(r["task_name"] for r in records):
        first = next(r for r in records if r["task_name"] == task)
        values = [cell.get((task, column)) for column in columns]
        shown = ["–" if r is None else "error" if "error" in r else f"{100 * r['main_score']:.2f}" for r in values]
        rows.append([task, first["type"], first["lang"], first["main_score_name"], *shown])
    means = []
    for column in columns:
        scores = [r["main_score"] for r in records if _label(r, with_model) == column and "main_score" in r]
        means.append(fmt(100 * sum(scores) / len(scores)) if scores else "–")
    rows.append(["**mean**", "", "", "", *means])
    return markdown_table(["task", "type", "lang", "metric", *columns], rows, text_columns=4) + "\n"
