"""The page of the claims study (``docs/reproduction.md``), written from ``results.json`` alone.

Every figure, verdict and fact of the page comes from the results: the scores, the speed rows, the
study's plan, and (in results written since they were recorded) the machine and the stages' settings.
What an older results file does not record, the page leaves out rather than guess. The claims
themselves are :mod:`.claims`.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_json
from .claims import (
    HELD_OUT_TASK,
    Figures,
    chinese_section,
    claim_dynamic,
    claim_held_out,
    claim_stage2,
    claim_stage4,
    claim_teacher,
    machine_words,
    per_step,
    steps_words,
    student_words,
)
from .plots import Panel, plot_panels, plot_speed

__all__ = ["write_document"]


# ---------------------------------------------------------------------------------------------------------------
# The page.


def _claim_panels(figures: Figures) -> list[Panel]:
    """The four claims' curves, one panel each, for the plot at the top of the page."""
    curve = figures.curve
    stage3 = [(f"dynamic, seed {s}", v, "-") for s, v in zip(figures.seeds, figures.variant("dynamic"))]
    stage3 += [(f"fixed 0.33, seed {s}", v, "--") for s, v in zip(figures.seeds, figures.variant("fixed"))]
    return [
        (
            "1. stage 2 vs training-free pooling",
            [
                ("stage 1 + training-free pool", curve["stage1"], "--"),
                ("stage 2 at step 0 (new MLP)", curve["stage2-start"], ":"),
                ("stage 2", curve["stage2"], "-"),
            ],
        ),
        ("2. stage 3: dynamic vs fixed ratio", stage3),
        ("3. stage 4 vs stage 3", [("stage 3", curve["stage3"], "--"), ("stage 4", curve["stage4"], "-")]),
        (
            "4. teacher vs student",
            [("teacher + training-free pool", curve["teacher"], "--"), ("student", curve["stage4"], "-")],
        ),
    ]


def _introduction(figures: Figures, stem: str) -> list[str]:
    """The title, where the page comes from, the setup of the runs and how they are scored."""
    results = figures.results
    plan, minutes = results["study"]["plan"], sum(results["timings_s"].values()) / 60
    stage3 = steps_words(plan["steps_stage3"], per_step(results, "stage3"), "rows")
    stage4 = steps_words(plan["steps_stage4"], per_step(results, "stage4"), "triples")
    return [
        "# The report's claims at CPU scale",
        "",
        "This page is written by `jasper-tc reproduce` (about "
        f"{minutes:.0f} minutes on {machine_words(results)}; it resumes where it stopped). Every figure comes from "
        f"[`{stem}/results.json`]({stem}/results.json); "
        "`jasper-tc reproduce --document-only` rewrites this page from it.",
        "",
        "**Setup.** The recipe of the report, shrunk to one CPU: the teacher is all-MiniLM-L6-v2 (6 layers,",
        f"384-d); the student is {student_words(results)}, plus jasper_mlp and the token",
        "compressor (SwiGLU MLP after the embedding lookup, adaptive average pool beyond 80 tokens), distilled",
        "through the four stages of `configs/minilm-cpu/` on the shipped bilingual Wikipedia sample "
        f"({2 * plan['paragraphs_per_language']} paragraphs, {plan['max_length']} tokens, "
        f"{plan['pairs']} title → paragraph pairs for stage 4). Stage 1: {plan['epochs_stage1']:g} epoch, "
        f"stage 2: {plan['epochs_stage2']:g} epoch, stage 3: {stage3}, stage 4: {stage4}. Stage-3 seeds: "
        f"{', '.join(str(s) for s in figures.seeds)}; everything before stage 3 uses seed 0.",
        "",
        f"**Scores.** The English long-text tasks of the local suite ({', '.join(figures.tasks)}): their",
        "documents are Wikipedia paragraphs and articles mostly longer than the 80-token threshold, so the ratio",
        "acts on them (queries are short and never compressed)"
        + (f"; {HELD_OUT_TASK} is held out from every training corpus" if HELD_OUT_TASK in figures.tasks else "")
        + ". The model is English, so the verdicts are judged on these; "
        + (f"the Chinese tasks ({', '.join(figures.chinese)}) are reported apart. " if figures.chinese else "")
        + f"At most {plan['eval_limit']} queries per task and {2 * plan['eval_limit']} documents; nDCG@10 × 100; "
        "no instructions (the students were trained without them).",
    ]


LIMITS = [
    "## What this scale can and cannot say",
    "",
    "- One student family (MiniLM) and a few minutes of training per stage: the figures test the",
    "  direction of each claim, not the report's magnitudes (Qwen3-0.6B, a 2048-d fused teacher,",
    "  hours of GPU training). Only stage 3 is repeated over seeds; the seed spread in claim 2 is the",
    "  best guide to which differences are noise.",
    "- The compressor only shortens the part of a text beyond 80 tokens (80 + (n − 80) × ratio tokens),",
    "  so at these lengths a ratio shortens documents by much less than its value suggests, and the",
    "  speed-up grows with the length.",
    "- all-MiniLM-L6-v2 is an English model whose vocabulary splits Chinese into single characters:",
    "  its Chinese scores start low, and pooling neighbouring tokens there averages single characters,",
    "  often of different words; section 6 shows them apart from the verdicts.",
    "- The teacher is the original model compressed without training. A student that is all of it starts",
    "  as the teacher, so there stage 1 only has to keep its score; a smaller student has to earn it.",
]


def write_document(results: dict, document: Path) -> None:
    """``document`` (Markdown) and its two plots beside it, in ``<stem>/``, from ``results`` alone."""
    figures = Figures(results)
    stem, pictures = document.stem, document.parent / document.stem
    pictures.mkdir(parents=True, exist_ok=True)
    title = "Long-text retrieval quality vs compression ratio (CPU-scale reproduction)"
    plot_panels(list(figures.ratios), _claim_panels(figures), title, pictures / "claims.png")
    cores = (results.get("machine") or {}).get("cpu_count")
    speed_title = f"encode time, {cores}-core CPU" if cores else "encode time, CPU"
    plot_speed(results["speed"], pictures / "speed.png", speed_title)
    atomic_write_json(pictures / "results.json", results)
    text = [
        *_introduction(figures, stem),
        "",
        f"![quality vs ratio, four claims]({stem}/claims.png)",
        "",
        claim_stage2(figures),
        "",
        claim_dynamic(figures),
        "",
        claim_stage4(figures),
        "",
        claim_teacher(figures),
        "",
        f"![encode time vs ratio]({stem}/speed.png)",
        "",
        claim_held_out(figures),
        "",
        chinese_section(figures),
        "",
        *LIMITS,
        "",
        "## Time per run (seconds)",
        "",
        "| run | s |",
        "|---|---:|",
        *(f"| {name} | {seconds} |" for name, seconds in results["timings_s"].items()),
        "",
    ]
    document.write_text("\n".join(text), encoding="utf-8")
