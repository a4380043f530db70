"""What a ratio costs and buys: the results table, quality-vs-ratio and latency-vs-length plots, and
side-by-side comparison of runs."""

from __future__ import annotations

import gzip
import json
import time
import warnings
from pathlib import Path

import numpy as np

from ..encode import Encoder, TruncationWarning
from .plotting import pyplot

__all__ = ["compare_runs", "measure_latency", "plot_latency", "plot_quality", "results_table"]


def _label(record: dict, with_model: bool) -> str:
    return (
        f"{record['model']} r={record['compression_ratio']:g}" if with_model else f"r={record['compression_ratio']:g}"
    )


def results_table(records: list[dict], with_model: bool = False) -> str:
    """Markdown: a row per task, a column per (model,) ratio, main scores x100; failures shown as such."""
    columns = list(dict.fromkeys(_label(r, with_model) for r in records))
    tasks = list(dict.fromkeys(r["task_name"] for r in records))
    cell = {(r["task_name"], _label(r, with_model)): r for r in records}
    lines = [
        "| task | type | lang | metric | " + " | ".join(columns) + " |",
        "|---|---|---|---|" + "---:|" * len(columns),
    ]
    for task in tasks:
        first = next(r for r in records if r["task_name"] == task)
        values = []
        for column in columns:
            record = cell.get((task, column))
            values.append(
                "–" if record is None else "error" if "error" in record else f"{100 * record['main_score']:.2f}"
            )
        lines.append(
            f"| {task} | {first['type']} | {first['lang']} | {first['main_score_name']} | " + " | ".join(values) + " |"
        )
    means = []
    for column in columns:
        scores = [r["main_score"] for r in records if _label(r, with_model) == column and "main_score" in r]
        means.append(f"{100 * np.mean(scores):.2f}" if scores else "–")
    lines.append("| **mean** | | | | " + " | ".join(means) + " |")
    return "\n".join(lines) + "\n"


def plot_quality(records: list[dict], path: Path, title: str, with_model: bool = False) -> None:
    """Main score against compression ratio, a line per task (and model)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    groups = sorted({(r["model"] if with_model else "", r["task_name"]) for r in records if "main_score" in r})
    for model, task in groups:
        rows = sorted(
            (
                r
                for r in records
                if r["task_name"] == task and "main_score" in r and (not with_model or r["model"] == model)
            ),
            key=lambda r: r["compression_ratio"],
        )
        ax.plot(
            [r["compression_ratio"] for r in rows],
            [100 * r["main_score"] for r in rows],
            marker="o",
            label=f"{model} {task}".strip(),
        )
    ax.set(xlabel="compression ratio (1 = none)", ylabel="main score x100", title=title)
    ax.invert_xaxis()
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def long_documents(path: Path, count: int) -> list[str]:
    """The ``text`` of the first ``count`` records of a .jsonl.gz file of long documents."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["text"])
            if len(texts) == count:
                break
    return texts


def measure_latency(
    encoder: Encoder, documents: list[str], lengths: list[int], ratios: list[float], batch_size: int = 8
) -> list[dict]:
    """ms per document to encode ``documents`` cut to each length, at each ratio (one warm-up each)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)  # cutting is the point here
        for length in [n for n in lengths if n <= encoder.max_length]:
            for ratio in ratios:
                encoder.encode(documents[:batch_size], max_length=length, compression_ratio=ratio)
                start = time.perf_counter()
                encoder.encode(documents, max_length=length, compression_ratio=ratio, batch_size=batch_size)
                rows.append(
                    {
                        "length": length,
                        "ratio": ratio,
                        "ms_per_doc": 1000 * (time.perf_counter() - start) / len(documents),
                    }
                )
    return rows


def plot_latency(rows: list[dict], path: Path, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for ratio in sorted({r["ratio"] for r in rows}, reverse=True):
        points = sorted((r for r in rows if r["ratio"] == ratio), key=lambda r: r["length"])
        ax.plot([p["length"] for p in points], [p["ms_per_doc"] for p in points], marker="o", label=f"r={ratio:g}")
    ax.set(xscale="log", yscale="log", xlabel="input tokens", ylabel="ms per document", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare_runs(summaries: list[dict], output: Path) -> str:
    """Several runs (models or ratios) side by side: a table and a plot in ``output``."""
    records = [r for summary in summaries for r in summary["results"]]
    output.mkdir(parents=True, exist_ok=True)
    table = results_table(records, with_model=True)
    (output / "comparison.md").write_text(table, encoding="utf-8")
    plot_quality(records, output / "comparison.png", "quality vs compression ratio", with_model=True)
    return table
