"""The claims study's page (``docs/reproduction.md``), written from ``results.json`` alone: the verdicts and
the figures they rest on, the tables of every run, two plots, and the facts of the run. What an older
results file does not record (the machine, the stages' settings), the page leaves out rather than guess.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_json
from ..figures import Figure, Line, Panel, draw
from ..results import mean_over
from .claims import SECTIONS, ReproductionPage, machine_words, per_step, steps_words, student_words
from .tables import markdown_table

__all__ = ["write_reproduction_page"]


def _introduction(page: ReproductionPage, stem: str) -> list[str]:
    results = page.results
    plan, minutes = results["study"]["plan"], sum(results["timings_s"].values()) / 60
    stage3 = steps_words(plan["steps_stage3"], per_step(results, "stage3"), "rows")
    stage4 = steps_words(plan["steps_stage4"], per_step(results, "stage4"), "triples")
    held_out = page.verdicts["no-stage-below-its-start"].figures["task"]
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
        f"{', '.join(str(s) for s in page.seeds)}; everything before stage 3 uses seed 0.",
        "",
        f"**Scores.** The English long-text tasks of the local suite ({', '.join(page.tasks)}): their",
        "documents are Wikipedia paragraphs and articles mostly longer than the 80-token threshold, so the ratio",
        "acts on them (queries are short and never compressed)"
        + (f"; {held_out} is held out from every training corpus" if held_out in page.tasks else "")
        + ". The model is English, so the verdicts are judged on these; "
        + (f"the Chinese tasks ({', '.join(page.chinese)}) are reported apart. " if page.chinese else "")
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


def _figures(page: ReproductionPage) -> tuple[Figure, Figure]:
    """The four claims' curves (one panel each) and encode time against the ratio."""

    def line(run: str, label: str, style: str) -> Line:
        return Line(label, page.ratios, [mean_over(page.scores[run], r, page.tasks) for r in page.ratios], style)

    runs = page.results["judged"]["stage3_runs"]
    stage3 = [line(run, f"dynamic, seed {s}", "-") for s, run in zip(page.seeds, runs["dynamic"])]
    stage3 += [line(run, f"fixed 0.33, seed {s}", "--") for s, run in zip(page.seeds, runs["fixed"])]
    quality = dict(ylabel="nDCG@10 × 100 (mean)", invert_x=True)
    panels = [
        Panel("1. stage 2 vs training-free pooling", [line("stage1", "stage 1 + training-free pool", "--"),
              line("stage2-start", "stage 2 at step 0 (new MLP)", ":"), line("stage2", "stage 2", "-")], **quality),
        Panel("2. stage 3: dynamic vs fixed ratio", stage3, **quality),
        Panel("3. stage 4 vs stage 3", [line("stage3", "stage 3", "--"), line("stage4", "stage 4", "-")], **quality),
        Panel("4. teacher vs student", [line("teacher", "teacher + training-free pool", "--"),
              line("stage4", "student", "-")], **quality),
    ]  # fmt: skip
    title = "Long-text retrieval quality vs compression ratio (CPU-scale reproduction)"
    speed = page.results["speed"]
    lines = []
    for model, style in (("teacher", "--"), ("student", "-")):
        for length in sorted({r["length"] for r in speed}):
            rows = sorted((r for r in speed if r["model"] == model and r["length"] == length), key=lambda r: r["ratio"])
            if rows:
                lines.append(
                    Line(
                        f"{model}, {length} tokens", [r["ratio"] for r in rows], [r["ms_per_doc"] for r in rows], style
                    )
                )
    cores = (page.results.get("machine") or {}).get("cpu_count")
    timing = Panel(f"encode time, {cores}-core CPU" if cores else "encode time, CPU", lines,
                   ylabel="ms per document", yscale="log", invert_x=True)  # fmt: skip
    return Figure(panels, title, columns=2), Figure([timing], panel_size=(7, 4.5))


def write_reproduction_page(results: dict, document: Path) -> None:
    """``document`` (Markdown) and, in ``<stem>/``, its two plots and the results it was written from."""
    page = ReproductionPage(results)
    stem, pictures = document.stem, document.parent / document.stem
    pictures.mkdir(parents=True, exist_ok=True)
    claims, speed = _figures(page)
    draw(claims, pictures / "claims.png")
    draw(speed, pictures / "speed.png")
    atomic_write_json(pictures / "results.json", results)
    text = [
        *_introduction(page, stem),
        "",
        f"![quality vs ratio, four claims]({stem}/claims.png)",
        "",
        *(section for claim in SECTIONS[:4] for section in (claim(page), "")),
        f"![encode time vs ratio]({stem}/speed.png)",
        "",
        *(section for claim in SECTIONS[4:] for section in (claim(page), "")),
        *LIMITS,
        "",
        "## Time per run (seconds)",
        "",
        markdown_table(["run", "s"], [[name, str(seconds)] for name, seconds in results["timings_s"].items()]),
        "",
    ]
    document.write_text("\n".join(text), encoding="utf-8")
