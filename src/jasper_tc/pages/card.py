"""The adapted model's card (``README.md`` of its folder): quality per ratio against the original and
against the original pooled training-free, with its plot, closeness to the original, and speed per ratio,
all from ``adapt``'s summary."""

from __future__ import annotations

from pathlib import Path

from ..figures import Figure, Line, Panel, draw
from ..results import ratio_key, scores_by_task
from .tables import markdown_table

__all__ = ["card_text", "draw_card_figure", "quality_table"]


def _scores(summary: dict, which: str) -> dict[str, dict[float, float]]:
    """``{task: {ratio: main score x 100}}`` of the original's or the adapted model's records."""
    scores = scores_by_task(summary["results"][which])
    return {task: {r: 100 * by[ratio_key(r)] for r in summary["ratios"]} for task, by in scores.items()}


def quality_table(summary: dict) -> str:
    """Markdown: per task and ratio, the original at ratio 1, the original pooled training-free, the
    adapted model, and the adapted model as a share of the original's ratio-1 score."""
    original, adapted = _scores(summary, "original"), _scores(summary, "adapted")
    rows = []
    for task, scores in original.items():
        base = scores[1.0]
        for ratio in summary["ratios"]:
            ours = adapted[task][ratio]
            rows.append(
                [
                    task,
                    f"{base:.2f}",
                    f"{ratio:g}",
                    f"{scores[ratio]:.2f}",
                    f"**{ours:.2f}**",
                    f"{100 * ours / base:.1f}%",
                ]
            )
    head = ["task", "original, r=1", "ratio", "original, training-free", "adapted", "adapted / original r=1"]
    return markdown_table(head, rows)


def draw_card_figure(summary: dict, path: Path, title: str) -> None:
    """Per task, score against ratio: the original at ratio 1, the original pooled training-free, adapted."""
    original, adapted = _scores(summary, "original"), _scores(summary, "adapted")
    ratios = summary["ratios"]
    panels = [
        Panel(
            task,
            [
                Line("original, training-free pooling", ratios, [scores[r] for r in ratios], "--"),
                Line("adapted", ratios, [adapted[task][r] for r in ratios], "-"),
            ],
            ylabel="main score × 100",
            invert_x=True,
            reference=("original, r=1", scores[1.0]),
        )
        for task, scores in original.items()
    ]
    draw(Figure(panels, title, panel_size=(4.2, 3.8)), path)


def _closeness_table(summary: dict) -> str:
    head = ["ratio", "short texts: adapted", "short: training-free", "documents: adapted", "documents: training-free"]
    keys = ("adapted_short", "training_free_short", "adapted_long", "training_free_long")
    rows = [[f"{row['ratio']:g}", *(f"{row[key]:.4f}" for key in keys)] for row in summary["closeness"]]
    return markdown_table(head, rows, text_columns=0)


def _speed_table(summary: dict) -> str:
    """ms per document, and per ratio the speed-up over the original at ratio 1 beside the share of its ratio-1
    score the adapted model keeps, task by task: where the model sits between speed and quality."""
    base = next(r["ms_per_doc"] for r in summary["speed"] if r["model"] == "original")
    original, adapted = _scores(summary, "original"), _scores(summary, "adapted")
    tasks = [task for task in original if task != summary.get("short_task")]
    rows = []
    for row in summary["speed"]:
        kept = ["" for _ in tasks]
        if row["model"] == "adapted" and row["ratio"] in summary["ratios"]:
            kept = [f"{100 * adapted[t][row['ratio']] / original[t][1.0]:.1f}%" for t in tasks]
        rows.append(
            [row["model"], f"{row['ratio']:g}", f"{row['ms_per_doc']:.1f}", f"{base / row['ms_per_doc']:.2f}×", *kept]
        )
    head = ["model", "ratio", "ms per document", "speed-up", *(f"{t}: kept" for t in tasks)]
    return markdown_table(head, rows)


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
    if compression.get("fit_positions"):
        fit = compression["fit_positions"]
        steps += f", each text of up to {stage['max_length']:,} tokens compressed to fit {fit} positions"
    precision = {"bf16": "; bf16 autocast", "fp16": "; fp16 autocast"}.get(stage.get("mixed_precision", "no"), "")
    return f"- Stage `{name}`: {steps}; loss {loss}; {rates}; trains {trains}{precision}."


def _introduction(source_name: str, mlp: bool) -> list[str]:
    """The card's front matter and what the model is, with how to load it."""
    made = "with a residual `jasper_mlp` in front of a parameter-free token pool" if mlp else (
        "trained to read its input through a parameter-free token pool"
    )  # fmt: skip
    return [
        "---",
        "library_name: sentence-transformers",
        "tags: [sentence-transformers, feature-extraction, jasper-tc, token-compression]",
        f"base_model: {source_name}",
        "---",
        "",
        f"# {Path(source_name).name}, compression-ready",
        "",
        f"`{source_name}` {made}, made by `jasper-tc adapt`: every input longer than 80 tokens is",
        "shortened by a ratio chosen per call (`int(80 + (n − 80) · ratio)` tokens) before any layer runs, so",
        "smaller ratios are faster. At ratio 1 it is meant to embed as the original does.",
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
    ]


def _long_inputs(stages: dict, window: int) -> list[str]:
    """How to read documents past the window, where the long stages trained for it (``--long-documents``)."""
    if "segments" not in stages:
        return []
    return [
        "Trained for documents past its window (`--long-documents`): read them by segments of two windows,",
        "each compressed to fit half a window (the defaults), or whole into one window; for multi-vector search,",
        f"a vector per {window // 8} tokens of each segment read into one window (late chunking), a query scoring",
        "its best:",
        "",
        "```python",
        'vectors = model.encode(documents, long_inputs="segments", max_length=32768)',
        'vectors = model.encode(documents, long_inputs="fit", max_length=32768)  # one forward each, faster',
        f'rows = model.encode(documents, long_inputs="segments", token_budget={window}, late_chunking=True,',
        f"                    late_chunk_length={window // 8}, return_segments=True, max_length=32768)",
        "```",
        "",
    ]


def card_text(source_name: str, summary: dict) -> str:
    texts, length = summary["texts"], summary["max_length"]
    stages = summary["stages"]
    counted = summary.get("closeness_texts", {"short": "The", "long": "the"})  # older records lack the counts
    shares = ", ".join(f"{share:.1f}% at {ratio}" for ratio, share in summary["kept_pct"].items())
    precision = summary.get("precision", {}).get("adapted", "fp32")  # older records: fp32
    mlp = summary.get("jasper_mlp", True)  # older records: the earlier recipe, with its MLP
    changes_short = "only the MLP changes them" if mlp else "only the trained layers change them"
    return "\n".join(
        [
            *_introduction(source_name, mlp),
            *_long_inputs(stages, length),
            f"## Quality per ratio ({length} tokens at most, in {precision}; tasks no training stage read)",
            "",
            f"Mean over tasks, as a share of the original's ratio-1 score: {shares}.",
            "",
            quality_table(summary),
            "",
            "![quality vs ratio](quality_vs_ratio.png)",
            "",
            "## Closeness to the original (mean cosine to its ratio-1 embedding)",
            "",
            f"{counted['short']} short texts (queries, never pooled: {changes_short}) and",
            f"{counted['long']} documents of the retrieval tasks, adapted and training-free:",
            "",
            _closeness_table(summary),
            "",
            f"## Speed (ms per document at {length} tokens, {precision}, this machine)",
            "",
            _speed_table(summary),
            "",
            "## How it was made",
            "",
            f"- Design: `{summary.get('design') or 'base'}`, a point of the design study's quality-speed frontier "
            "(`jasper-tc adapt --design NAME` trains another; the study's page gives each one's figures).",
            f"- Training texts: {texts['documents']} documents of `{summary['corpus']}` and {texts['short_texts']}",
            "  short texts (their first sentences), embedded by the original model at ratio 1 as the targets.",
            *(_stage_words(name, stage) for name, stage in stages.items()),
            "- Time per phase (s; a phase kept from an earlier run of the command counts 0): "
            + ", ".join(f"{k} {v:.0f}" for k, v in summary["timings_s"].items())
            + ".",
            "- The license is the base model's.",
            "",
        ]
    )
