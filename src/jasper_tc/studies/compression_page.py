"""The compression-training study's page, written from ``results.json`` alone: one row per run, the
verdict per question computed from the figures, and a plot of quality against ratio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..recipes import LONG_TASKS, SHORT_TASK

__all__ = ["run_scores", "write_page"]


def run_scores(records: list[dict]) -> dict[str, dict[float, float]]:
    """``{task: {ratio: main score x 100}}``."""
    table: dict[str, dict[float, float]] = {}
    for record in records:
        table.setdefault(record["task_name"], {})[record["compression_ratio"]] = 100 * record["main_score"]
    return table


def _long_mean(scores: dict[str, dict[float, float]], ratio: float) -> float:
    return float(np.mean([scores[task][ratio] for task in LONG_TASKS if task in scores]))


def _share(scores, original, ratio: float) -> float:
    """Mean over the long tasks of the run's score at ``ratio`` over the original's at ratio 1, in %."""
    return 100 * float(np.mean([scores[t][ratio] / original[t][1.0] for t in LONG_TASKS if t in scores]))


def _rows(results: dict) -> list[tuple[str, str, str, dict, float | None]]:
    original = run_scores(results["original"])
    rows = [("reference", "original, pooled training-free (no training)", "original", original, None)]
    variants = {v["name"]: v for v in results["variants"]}
    for name, run in results["runs"].items():
        variant = variants[name]
        rows.append((variant["group"], variant["change"], name, run_scores(run["results"]), run["train_s"]))
    return rows


def _table(results: dict) -> str:
    original = run_scores(results["original"])
    ratios = results["study"]["ratios"]
    low = [r for r in ratios if r < 1]
    head = ["question", "run", "what differs", "train min"]
    head += [f"{task} r={r:g}" for task in LONG_TASKS for r in (1.0, 0.33, 0.1) if r in ratios]
    head += [f"long tasks, % of original r=1, at r={r:g}" for r in (1.0, *low)] + [f"{SHORT_TASK}"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for group, change, name, scores, train_s in _rows(results):
        cells = [group, f"`{name}`", change, "–" if train_s is None else f"{train_s / 60:.1f}"]
        cells += [f"{scores[t][r]:.2f}" for t in LONG_TASKS for r in (1.0, 0.33, 0.1) if r in ratios]
        cells += [f"{_share(scores, original, r):.1f}" for r in (1.0, *low)]
        cells.append(f"{scores[SHORT_TASK][1.0]:.2f}" if SHORT_TASK in scores else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdicts(results: dict) -> list[str]:
    """Per question, each run's mean long-task share over the ratios below 1, against the base run's (and
    how far two seeds of the base land apart, the noise to read them against)."""
    original = run_scores(results["original"])
    low = [r for r in results["study"]["ratios"] if r < 1]
    value, groups = {}, {}
    for group, _, name, scores, train_s in _rows(results):
        if train_s is not None:
            value[name] = float(np.mean([_share(scores, original, r) for r in low]))
            groups.setdefault(group, []).append(name)
    if "base" not in value:
        return []
    spread = max(abs(value[n] - value["base"]) for n in groups.get("base", ["base"]))
    noise = 2 * spread  # one pair of seeds is a lower bound of the noise: ask for twice its spread
    lines = [f"- **base**: {value['base']:.1f}%; two seeds land {spread:.1f} points apart."]
    for group, names in groups.items():
        if group == "base":
            continue
        better = [n for n in names if value[n] > value["base"] + noise]
        named = ", ".join(f"`{n}`" for n in better)
        verdict = (
            f"above the base by more than twice the seed spread: {named}"
            if better
            else ("none is above the base by more than twice the seed spread")
        )
        lines.append(f"- **{group}**: " + ", ".join(f"`{n}` {value[n]:.1f}%" for n in names) + f" — {verdict}.")
    return lines


def _plot(results: dict, path: Path) -> None:
    from ..evaluation.plotting import pyplot

    plt = pyplot()
    ratios = results["study"]["ratios"]
    original = run_scores(results["original"])
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.axhline(_long_mean(original, 1.0), color="grey", linestyle=":", label="original, r=1")
    for group, _, name, scores, train_s in _rows(results):
        style = "--" if train_s is None else "-"
        ax.plot(ratios, [_long_mean(scores, r) for r in ratios], style, marker="o", label=f"{name} ({group})")
    ax.set(xlabel="compression ratio", ylabel="nDCG@10 × 100, mean of the long-text tasks")
    ax.set_title("all-MiniLM-L6-v2 made compression-ready: one line per run")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_page(results: dict, page: Path) -> None:
    """``page`` (Markdown) and, in ``<stem>/``, its plot and a copy of the results."""
    pictures = page.parent / page.stem
    pictures.mkdir(parents=True, exist_ok=True)
    _plot(results, pictures / "quality_vs_ratio.png")
    atomic_write_json(pictures / "results.json", results)
    study = results["study"]
    minutes = sum(results["timings_s"].values()) / 60
    text = "\n".join(
        [
            "# Compression training: what loses quality, and what fixes it",
            "",
            f"Written by `jasper-tc compression-study` from [`{page.stem}/results.json`]({page.stem}/results.json)"
            f" ({minutes:.0f} minutes of runs). Every run starts from `{study['model']}` as its own teacher and",
            "trains with `jasper-tc adapt`'s recipe (`configs/adapt/`) with one thing changed; every run is",
            f"evaluated the same way: {', '.join(LONG_TASKS)} (nDCG@10; documents cut at 256 tokens, queries",
            f"never pooled) and {SHORT_TASK} (Spearman; short texts only, so it shows what the MLP does to",
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
            *_verdicts(results),
            "",
        ]
    )
    page.write_text(text, encoding="utf-8")
