"""What a ratio costs and buys: the results table, quality-vs-ratio and latency-vs-length plots, and
side-by-side comparison of runs."""

from __future__ import annotations

import gzip
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from ..encode import Encoder, TruncationWarning
from ..figures import Figure, Line, Panel, draw
from ..pages.tables import results_table

__all__ = [
    "compare_runs",
    "documents_of_length",
    "measure_latency",
    "plot_latency",
    "plot_quality",
    "results_table",
    "timed_rounds",
]


def plot_quality(records: list[dict], path: Path, title: str, with_model: bool = False) -> None:
    """Main score against compression ratio, a line per task (and model)."""
    groups = sorted({(r["model"] if with_model else "", r["task_name"]) for r in records if "main_score" in r})
    lines = []
    for model, task in groups:
        rows = sorted(
            (
                r
                for r in records
                if r["task_name"] == task and "main_score" in r and (not with_model or r["model"] == model)
            ),
            key=lambda r: r["compression_ratio"],
        )
        x, y = [r["compression_ratio"] for r in rows], [100 * r["main_score"] for r in rows]
        lines.append(Line(f"{model} {task}".strip(), x, y))
    panel = Panel(title, lines, xlabel="compression ratio (1 = none)", ylabel="main score x100", invert_x=True)
    draw(Figure([panel], panel_size=(8, 5), legend_size=7, legend_columns=2), path)


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


def documents_of_length(encoder: Encoder, documents: list[str], length: int) -> list[str]:
    """Each document's text cut to its first ``length`` tokens (special tokens included) of ``encoder``'s
    tokenizer."""
    ids, _, _ = encoder.tokenize(documents, length)
    return [encoder.tokenizer.decode(row, skip_special_tokens=True) for row in ids]


def measure_latency(
    encoder: Encoder, documents: list[str], lengths: list[int], ratios: list[float], batch_size: int = 8
) -> list[dict]:
    """ms per document of each length, at each ratio (one warm-up each): ``documents`` are cut to their first
    ``length`` tokens before the clock starts, so a cell times a document of that length, tokenizer included
    (not the tokenizing of a longer text only to keep its start)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)  # cutting is the point here
        for length in [n for n in lengths if n <= encoder.max_length]:
            texts = documents_of_length(encoder, documents, length)
            for ratio in ratios:
                encoder.encode(texts[:batch_size], max_length=length, compression_ratio=ratio)
                start = time.perf_counter()
                encoder.encode(texts, max_length=length, compression_ratio=ratio, batch_size=batch_size)
                rows.append(
                    {
                        "length": length,
                        "ratio": ratio,
                        "ms_per_doc": 1000 * (time.perf_counter() - start) / len(documents),
                    }
                )
    return rows


def timed_rounds(
    setups: dict[str, Callable[[], Encoder]],
    documents: list[str],
    lengths: list[int],
    ratios: list[float],
    *,
    rounds: int = 3,
    batch_size: int = 16,
) -> dict[str, list[dict]]:
    """ms per document of several models, measured in alternating rounds (every model once per round, so
    that a machine slowing down slows them all alike); per model, the median of the rounds per length and ratio.
    ``setups[name]()`` gives the model's encoder, ready to time."""
    measured: dict[str, list[list[dict]]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, setup in setups.items():
            measured[name].append(measure_latency(setup(), documents, lengths, ratios, batch_size=batch_size))
    medians = {}
    for name, runs in measured.items():
        rows = []
        for cells in zip(*runs):  # the same (length, ratio) in every round
            times = sorted(cell["ms_per_doc"] for cell in cells)
            rows.append(cells[0] | {"ms_per_doc": times[len(times) // 2], "rounds": [c["ms_per_doc"] for c in cells]})
        medians[name] = rows
    return medians


def plot_latency(rows: list[dict], path: Path, title: str) -> None:
    """ms per document against input length, a line per ratio (log-log)."""
    lines = []
    for ratio in sorted({r["ratio"] for r in rows}, reverse=True):
        points = sorted((r for r in rows if r["ratio"] == ratio), key=lambda r: r["length"])
        lines.append(Line(f"r={ratio:g}", [p["length"] for p in points], [p["ms_per_doc"] for p in points]))
    panel = Panel(title, lines, xlabel="input tokens", ylabel="ms per document", xscale="log", yscale="log")
    draw(Figure([panel], panel_size=(7, 4.5)), path)


def compare_runs(summaries: list[dict], output: Path) -> str:
    """Several runs (models or ratios) side by side: a table and a plot in ``output``."""
    records = [r for summary in summaries for r in summary["results"]]
    output.mkdir(parents=True, exist_ok=True)
    table = results_table(records, with_model=True)
    (output / "comparison.md").write_text(table, encoding="utf-8")
    plot_quality(records, output / "comparison.png", "quality vs compression ratio", with_model=True)
    return table
