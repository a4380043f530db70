"""The long-document study's page, from ``results.json`` alone: per model and strategy, quality and encode
time on the long articles and at each synthetic length, with two plots (quality and time against length)."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_json

__all__ = ["write_long_document_page"]


def _cell(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _real_table(results: dict) -> str:
    rows, tasks = results["rows"], results["study"]["real_tasks"]
    head = ["model", "strategy"] + [f"{t} nDCG@10" for t in tasks] + [f"{t} ms/doc" for t in tasks]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for model in results["study"]["models"]:
        for strategy in results["study"]["strategies"]:
            cells = [_cell(rows, model=model, strategy=strategy, task=t) for t in tasks]
            quality = [f"{100 * c['ndcg_at_10']:.2f}" if c else "–" for c in cells]
            speed = [f"{c['ms_per_doc']:.0f}" if c else "–" for c in cells]
            lines.append(f"| {model} | {strategy} | " + " | ".join(quality + speed) + " |")
    return "\n".join(lines)


def _synthetic_table(results: dict, kind: str, key: str) -> str:
    rows, lengths = results["rows"], results["study"]["lengths"]
    lines = [
        "| model | strategy | " + " | ".join(f"{n:,}" for n in lengths) + " |",
        "|---|---|" + "---:|" * len(lengths),
    ]
    for model in results["study"]["models"]:
        for strategy in results["study"]["strategies"]:
            cells = [_cell(rows, model=model, strategy=strategy, task=kind, length=n) for n in lengths]
            shown = [
                "–" if c is None else (f"{100 * c[key]:.0f}" if key == "ndcg_at_1" else f"{c[key]:.0f}") for c in cells
            ]
            lines.append(f"| {model} | {strategy} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def _mean(rows: list[dict], key: str, **match) -> float | None:
    values = [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]
    return sum(values) / len(values) if values else None


def _targets(results: dict, window: int = 256) -> str:
    """Compress-to-fit against chunk and truncate, per model: the quality gap and the time ratio on the first
    real task, and on the synthetic lengths of 4x the window and more (the target: within 2 points of chunk at
    no more than half its time, and clearly above truncation)."""
    study, rows = results["study"], results["rows"]
    task = study["real_tasks"][0] if study["real_tasks"] else "articles"
    long_lengths = [n for n in study["lengths"] if n >= 4 * window]
    fits = [name for name, options in study["strategies"].items() if options.get("long_inputs") == "fit"]
    head = (
        f"| model | strategy | {task}: − chunk | − truncate | time / chunk | synthetic ≥ {4 * window:,} tokens: "
        "− chunk | − truncate | time / chunk | within 2 points at ≤ half the time (articles / synthetic) |"
    )
    lines = [head, "|---|---|" + "---:|" * 7]
    for model in study["models"]:
        for fit in fits:
            cells, verdict = [], []
            synthetic = [{"task": k, "length": n} for k in study["kinds"] for n in long_lengths]
            articles = [{"task": task}] if study["real_tasks"] else []
            for picks, scale in ((articles, "ndcg_at_10"), (synthetic, "ndcg_at_1")):
                score = {s: _mean_of(rows, scale, model, s, picks) for s in (fit, "chunk", "truncate")}
                time = {s: _mean_of(rows, "ms_per_doc", model, s, picks) for s in (fit, "chunk")}
                if None in score.values() or None in time.values():
                    cells += ["–"] * 3
                    continue
                gap, over, ratio = (
                    100 * (score[fit] - score["chunk"]),
                    100 * (score[fit] - score["truncate"]),
                    time[fit] / time["chunk"],
                )
                cells += [f"{gap:+.1f}", f"{over:+.1f}", f"{ratio:.2f}"]
                verdict.append(gap >= -2 and ratio <= 0.5)
            shown = " / ".join("yes" if ok else "no" for ok in verdict) or "–"
            lines.append(f"| {model} | {fit} | " + " | ".join(cells) + f" | {shown} |")
    return "\n".join(lines)


def _mean_of(rows: list[dict], key: str, model: str, strategy: str, picks: list[dict]) -> float | None:
    values = [_mean(rows, key, model=model, strategy=strategy, **pick) for pick in picks]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _plot(results: dict, path: Path, key: str, ylabel: str, log_y: bool) -> None:
    from ..evaluation.plotting import pyplot

    plt = pyplot()
    kinds = results["study"]["kinds"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.5), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, kind in zip(axes[0], kinds):
        for i, model in enumerate(results["study"]["models"]):
            for strategy in results["study"]["strategies"]:
                points = sorted(
                    (r["length"], r[key]) for r in results["rows"]
                    if r["model"] == model and r["strategy"] == strategy and r["task"] == kind
                )  # fmt: skip
                if points:
                    values = [100 * v if key == "ndcg_at_1" else v for _, v in points]
                    ax.plot([n for n, _ in points], values, styles[i % 4], marker="o", label=f"{model}, {strategy}")
        ax.set(xscale="log", xlabel="document length (tokens)", ylabel=ylabel, title=kind)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_long_document_page(results: dict, page: Path) -> None:
    """``page`` and, in ``<stem>/``, the two plots and a copy of the results."""
    pictures = page.parent / page.stem
    pictures.mkdir(parents=True, exist_ok=True)
    _plot(results, pictures / "quality_vs_length.png", "ndcg_at_1", "nDCG@1 × 100", log_y=False)
    _plot(results, pictures / "time_vs_length.png", "ms_per_doc", "ms per document", log_y=True)
    atomic_write_json(pictures / "results.json", results)
    study = results["study"]
    strategies = ", ".join(f"`{name}` ({options})" for name, options in study["strategies"].items())
    sections = [
        "# Long documents: truncate, compress to fit, or chunk",
        "",
        f"Written by `jasper-tc long-documents-study` from [`{page.stem}/results.json`]({page.stem}/results.json).",
        f"Strategies: {strategies}; fit and chunk read at most {study['cap']:,} tokens per document. Times are",
        "ms per document on this machine's CPU, measured in the same run as the quality.",
        "",
        "## Compress to fit against chunk and truncate",
        "",
        "Differences in nDCG points (nDCG@10 on the articles, nDCG@1 × 100 averaged over the synthetic tasks at",
        "4× the 256-token window and more); time as a ratio of ms per document. The target: within 2 points of",
        "chunk at no more than half its time, and clearly above truncation.",
        "",
        _targets(results),
        "",
        "## Long Wikipedia articles (a sentence from deep inside the article as the query)",
        "",
        _real_table(results),
        "",
        f"## Synthetic tasks (LongEmbed-style; {study['documents']} documents, {study['queries']} queries per length;"
        " nDCG@1 × 100)",
        "",
        "![quality vs length](" + f"{page.stem}/quality_vs_length.png)",
        "",
    ]
    for kind in study["kinds"]:
        sections += [f"### {kind}", "", _synthetic_table(results, kind, "ndcg_at_1"), ""]
        sections += ["ms per document:", "", _synthetic_table(results, kind, "ms_per_doc"), ""]
    sections += ["![time vs length](" + f"{page.stem}/time_vs_length.png)", ""]
    page.write_text("\n".join(sections), encoding="utf-8")
