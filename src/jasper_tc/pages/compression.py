"""The compression-training study's page, written from ``results.json`` alone: one row per run, each
question's verdict as the study judged it, and a plot of quality against ratio."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_json
from ..figures import Figure, Line, Panel, draw
from ..results import Scores, Verdict, mean_over, ratio_key, scores_by_task, share
from .tables import markdown_table

__all__ = ["write_compression_page"]

SHOWN_RATIOS = (1.0, 0.33, 0.1)


def _rows(results: dict) -> list[tuple[str, str, str, Scores, float | None]]:
    """(question, what differs, run, scores, training seconds) per run, the original first."""
    rows = [
        (
            "reference",
            "original, pooled training-free (no training)",
            "original",
            scores_by_task(results["original"]),
            None,
        )
    ]
    variants = {v["name"]: v for v in results["variants"]}
    for name, run in results["runs"].items():
        variant = variants[name]
        rows.append((variant["group"], variant["change"], name, scores_by_task(run["results"]), run["train_s"]))
    return rows


def _tasks(results: dict) -> tuple[list[str], str]:
    """The long tasks the study judged on, and its short-text task."""
    judged = results["judged"]
    return judged["long_tasks"], judged["short_task"]


def _table(results: dict) -> str:
    long_tasks, short_task = _tasks(results)
    original = scores_by_task(results["original"])
    ratios = results["study"]["ratios"]
    shown = [(task, r) for task in long_tasks for r in SHOWN_RATIOS if r in ratios]
    kept = [1.0, *(r for r in ratios if r < 1)]
    head = ["question", "run", "what differs", "train min", *(f"{t} r={r:g}" for t, r in shown)]
    head += [f"long tasks, % of original r=1, at r={r:g}" for r in kept] + [short_task]
    rows = []
    for group, change, name, scores, train_s in _rows(results):
        cells = [group, f"`{name}`", change, "–" if train_s is None else f"{train_s / 60:.1f}"]
        cells += [f"{100 * scores[t][ratio_key(r)]:.2f}" for t, r in shown]
        cells += [f"{share(scores, original, r, long_tasks):.1f}" for r in kept]
        cells.append(f"{100 * scores[short_task][ratio_key(1.0)]:.2f}" if short_task in scores else "–")
        rows.append(cells)
    return markdown_table(head, rows, text_columns=3)


def _verdict_lines(results: dict) -> list[str]:
    verdicts = [Verdict.of(record) for record in results.get("verdicts", [])]
    if not verdicts:
        return []
    first = verdicts[0].figures
    lines = [f"- **base**: {first['base_pct']:.1f}%; two seeds land {first['seed_spread']:.1f} points apart."]
    for verdict in verdicts:
        kept = verdict.figures["kept_pct"]
        above = ", ".join(f"`{n}`" for n in verdict.figures["above_base"])
        said = (
            f"above the base by more than twice the seed spread: {above}"
            if verdict.holds
            else "none is above the base by more than twice the seed spread"
        )
        lines.append(f"- **{verdict.claim}**: " + ", ".join(f"`{n}` {v:.1f}%" for n, v in kept.items()) + f" — {said}.")
    return lines


def _figure(results: dict) -> Figure:
    long_tasks, _ = _tasks(results)
    ratios = results["study"]["ratios"]
    original = scores_by_task(results["original"])
    lines = [
        Line(
            f"{name} ({group})",
            ratios,
            [mean_over(scores, r, long_tasks) for r in ratios],
            "--" if train_s is None else "-",
        )
        for group, _, name, scores, train_s in _rows(results)
    ]
    panel = Panel(
        "all-MiniLM-L6-v2 made compression-ready: one line per run", lines,
        ylabel="nDCG@10 × 100, mean of the long-text tasks", invert_x=True,
        reference=("original, r=1", mean_over(original, 1.0, long_tasks)),
    )  # fmt: skip
    return Figure([panel], panel_size=(8, 5), legend_size=7, legend_columns=2)


def write_compression_page(results: dict, page: Path) -> None:
    """``page`` (Markdown) and, in ``<stem>/``, its plot and a copy of the results."""
    pictures = page.parent / page.stem
    pictures.mkdir(parents=True, exist_ok=True)
    draw(_figure(results), pictures / "quality_vs_ratio.png")
    atomic_write_json(pictures / "results.json", results)
    study = results["study"]
    long_tasks, short_task = _tasks(results)
    minutes = sum(results["timings_s"].values()) / 60
    text = "\n".join(
        [
            "# Compression training: what loses quality, and what fixes it",
            "",
            f"Written by `jasper-tc compression-study` from [`{page.stem}/results.json`]({page.stem}/results.json)"
            f" ({minutes:.0f} minutes of runs). Every run starts from `{study['model']}` as its own teacher and",
            "trains with `jasper-tc adapt`'s recipe (`configs/adapt/`) with one thing changed; every run is",
            f"evaluated the same way: {', '.join(long_tasks)} (nDCG@10; documents cut at 256 tokens, queries",
            f"never pooled) and {short_task} (Spearman; short texts only, so it shows what the MLP does to",
            "queries). Wiki-title2article-en is held out: no training corpus of the project reads its articles.",
            f"Training texts: the first {study['paragraphs']} English paragraphs of the shipped sample plus their",
            "first sentences (the `large` run: the first "
            f"{study['large_paragraphs']} of the development paragraph file). Base budget: "
            f"{', '.join(study['base_overrides'])}; seed 0 unless the row says otherwise. The training minutes are",
            f"wall time on {results.get('machine', {}).get('cpu_count', 'a few')} CPU cores that were not always"
            " otherwise idle: read them as rough.",
            "",
            _table(results),
            "",
            "![quality vs ratio](" + f"{page.stem}/quality_vs_ratio.png)",
            "",
            "## Per question (mean share of the original's ratio-1 score over the long tasks and the ratios below 1)",
            "",
            *_verdict_lines(results),
            "",
        ]
    )
    page.write_text(text, encoding="utf-8")
