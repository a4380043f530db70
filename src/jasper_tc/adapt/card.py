"""The adapted model's folder and its card: what was measured, against the original and against the
original pooled training-free, with a plot, the closeness check and the speed per ratio."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from .source import SourceModel

__all__ = ["quality_table", "write_card"]


def _scores(records: list[dict]) -> dict[str, dict[float, float]]:
    table: dict[str, dict[float, float]] = {}
    for record in records:
        table.setdefault(record["task_name"], {})[record["compression_ratio"]] = 100 * record["main_score"]
    return table


def quality_table(summary: dict) -> str:
    """Markdown: per task and ratio, the original at ratio 1, the original pooled training-free, the
    adapted model, and the adapted model as a share of the original's ratio-1 score."""
    original, adapted = (_scores(summary["results"][k]) for k in ("original", "adapted"))
    ratios = summary["ratios"]
    lines = [
        "| task | original, r=1 | ratio | original, training-free | adapted | adapted / original r=1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for task, scores in original.items():
        base = scores[1.0]
        for ratio in ratios:
            ours = adapted[task][ratio]
            lines.append(
                f"| {task} | {base:.2f} | {ratio:g} | {scores[ratio]:.2f} | **{ours:.2f}** | {100 * ours / base:.1f}% |"
            )
    return "\n".join(lines)


def _plot(summary: dict, path: Path, title: str) -> None:
    from ..evaluation.plotting import pyplot

    plt = pyplot()
    original, adapted = (_scores(summary["results"][k]) for k in ("original", "adapted"))
    ratios = summary["ratios"]
    fig, axes = plt.subplots(1, len(original), figsize=(4.2 * len(original), 3.8), squeeze=False)
    for ax, (task, scores) in zip(axes[0], original.items()):
        ax.axhline(scores[1.0], color="grey", linestyle=":", label="original, r=1")
        ax.plot(ratios, [scores[r] for r in ratios], "--o", label="original, training-free pooling")
        ax.plot(ratios, [adapted[task][r] for r in ratios], "-o", label="adapted")
        ax.set(title=task, xlabel="compression ratio", ylabel="main score × 100")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _closeness_table(summary: dict) -> str:
    lines = [
        "| ratio | short texts: adapted | short: training-free | documents: adapted | documents: training-free |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in summary["closeness"]:
        lines.append(
            f"| {row['ratio']:g} | {row['adapted_short']:.4f} | {row['training_free_short']:.4f} | "
            f"{row['adapted_long']:.4f} | {row['training_free_long']:.4f} |"
        )
    return "\n".join(lines)


def _speed_table(summary: dict) -> str:
    base = next(r["ms_per_doc"] for r in summary["speed"] if r["model"] == "original")
    lines = ["| model | ratio | ms per document | speed-up |", "|---|---:|---:|---:|"]
    for row in summary["speed"]:
        lines.append(
            f"| {row['model']} | {row['ratio']:g} | {row['ms_per_doc']:.1f} | {base / row['ms_per_doc']:.2f}× |"
        )
    return "\n".join(lines)


def _mean_share(summary: dict, ratio: float) -> float:
    original, adapted = (_scores(summary["results"][k]) for k in ("original", "adapted"))
    return float(np.mean([adapted[t][ratio] / s[1.0] for t, s in original.items()]))


def write_card(plan, source: SourceModel, trained: Path, summary: dict) -> Path:
    """Copy the trained model to ``OUTPUT/model`` (atomically) with ``README.md`` and its plot."""
    final = plan.output / "model"
    staging = plan.output / ".model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(trained, staging)
    _plot(summary, staging / "quality_vs_ratio.png", f"{source.name}, compression-ready")
    atomic_write_text(staging / "README.md", card_text(source, summary))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def _stage_words(name: str, stage: dict) -> str:
    """One stage's settings in words: steps, batch, ratios, loss, learning rates, what trains."""
    compression = stage["compression"]
    ratios = {
        "fixed": f"at ratio {compression.get('ratio')}",
        "algorithm2": "at ratios drawn per step (Algorithm 2)",
        "none": "uncompressed",
    }.get(compression["schedule"], f"at {compression['schedule']} ratios")
    loss = " + ".join(f"{weight:g} × {term}" for term, weight in stage["loss"].items())
    rates = f"lr {stage['lr']:g}" + "".join(f", {p} at {r:g}" for p, r in (stage["lr_by_pattern"] or {}).items())
    trains = ", ".join(stage["trainable"]) if stage["trainable"] else "everything"
    batch = stage["batch_size"] * stage.get("accumulation", 1)
    steps = f"{stage['steps']} steps of {batch} texts {ratios}"
    return f"- Stage `{name}`: {steps}; loss {loss}; {rates}; trains {trains}."


def card_text(source: SourceModel, summary: dict) -> str:
    texts, length = summary["texts"], summary["max_length"]
    stages = summary["stages"]
    counted = summary.get("closeness_texts", {"short": "The", "long": "the"})  # older records lack the counts
    shares = ", ".join(f"{100 * _mean_share(summary, r):.1f}% at {r:g}" for r in summary["ratios"])
    return "\n".join(
        [
            "---",
            "library_name: sentence-transformers",
            "tags: [sentence-transformers, feature-extraction, jasper-tc, token-compression]",
            f"base_model: {source.name}",
            "---",
            "",
            f"# {Path(source.name).name}, compression-ready",
            "",
            f"`{source.name}` with a residual `jasper_mlp` in front of a parameter-free token pool, made by",
            "`jasper-tc adapt`: every input longer than 80 tokens is shortened by a ratio chosen per call",
            "(`int(80 + (n − 80) · ratio)` tokens) before any layer runs, so smaller ratios are faster. At ratio 1",
            "it is meant to embed as the original does.",
            "",
            "```python",
            "import jasper_tc",
            'model = jasper_tc.load("path/to/this/folder")',
            'vectors = model.encode(["a long document ..."], compression_ratio=0.33)',
            "```",
            "",
            "It also loads with `SentenceTransformer(folder)` after `import jasper_tc` (pass",
            "`compression_ratio=` to `encode`).",
            "",
            f"## Quality per ratio (inputs cut at {length} tokens; tasks no training stage read)",
            "",
            f"Mean over tasks, as a share of the original's ratio-1 score: {shares}.",
            "",
            quality_table(summary),
            "",
            "![quality vs ratio](quality_vs_ratio.png)",
            "",
            "## Closeness to the original (mean cosine to its ratio-1 embedding)",
            "",
            f"{counted['short']} short texts (queries, never pooled: only the MLP changes them) and",
            f"{counted['long']} documents of the retrieval tasks, adapted and training-free:",
            "",
            _closeness_table(summary),
            "",
            f"## Speed (ms per document at {length} tokens, this machine)",
            "",
            _speed_table(summary),
            "",
            "## How it was made",
            "",
            f"- Training texts: {texts['documents']} documents of `{summary['corpus']}` and {texts['short_texts']}",
            "  short texts (their first sentences), embedded by the original model at ratio 1 as the targets.",
            *(_stage_words(name, stage) for name, stage in stages.items()),
            "- Time per phase (s): " + ", ".join(f"{k} {v:.0f}" for k, v in summary["timings_s"].items()) + ".",
            "- The license is the base model's.",
            "",
        ]
    )
