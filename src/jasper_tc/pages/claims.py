"""The reproduction page's sections, one per claim: the verdict computed by the study and the figures it
rests on, said in words beside the tables of every run (:mod:`.reproduction` puts the page together)."""

from __future__ import annotations

from ..results import Verdict, mean_over
from .tables import curve_row, fmt, markdown_table, task_cells, verdict_words

__all__ = ["SECTIONS", "ReproductionPage", "machine_words", "per_step", "steps_words", "student_words"]


LOSS_WORDS = {
    "cosine": "cosine",
    "mse": "MSE",
    "similarity": "Gram matrix",
    "info_nce": "InfoNCE",
    "soft_distillation": "soft distillation",
}
MLP_STARTS = {
    "residual": "residual (x + MLP(x)) with its output projection at zero, so that step 0 is the stage-1 "
    "student pooled training-free",
    "identity": "fitted near the identity: it replaces the embeddings, with no residual path",
    "random": "at random, as in the report: it replaces the embeddings, with no residual path",
}


class ReproductionPage:
    """The results, their verdicts by claim, and what the tables need."""

    def __init__(self, results: dict) -> None:
        self.results = results
        self.verdicts = {v.claim: v for v in map(Verdict.of, results["verdicts"])}
        judged = results["judged"]
        self.tasks, self.chinese, self.ratios, self.seeds = (
            judged["tasks"], judged["chinese"], judged["ratios"], judged["seeds"]
        )  # fmt: skip
        self.scores, self.labels = results["scores"], results["labels"]

    def curve(self, run: str, label: str, tasks: list[str] | None = None) -> list[str]:
        return curve_row(label, self.scores[run], self.ratios, tasks or self.tasks)

    def mean_curve(self, runs: list[str], label: str) -> list[str]:
        """The mean, over ``runs``, of their mean long-task score per ratio."""
        values = [sum(mean_over(self.scores[run], r, self.tasks) for run in runs) / len(runs) for r in self.ratios]
        return [label, *(fmt(v) for v in values)]

    def curves_table(self, rows: list[list[str]]) -> str:
        return markdown_table(["run", *(f"r={r:g}" for r in self.ratios)], rows)

    def task_table(self, runs: list[str], ratios: list[float]) -> str:
        head = ["task", *(f"{self.labels[n]} r={r:g}" for n in runs for r in ratios)]
        rows = [[task, *(c for n in runs for c in task_cells(self.scores[n], task, ratios))] for task in self.tasks]
        rows.append(["**mean**", *(fmt(mean_over(self.scores[n], r, self.tasks)) for n in runs for r in ratios)])
        return markdown_table(head, rows)


def machine_words(results: dict) -> str:
    """What the study ran on, for "on ...": "2 CPU cores", or "a CPU" when the results do not say."""
    machine = results.get("machine") or {}
    if machine.get("device", "cpu") != "cpu":
        return f"a {machine['device']} device"
    cores, threads = machine.get("cpu_count"), machine.get("torch_threads")
    if not cores:
        return "a CPU"
    text = f"{cores} CPU core" + ("s" if cores > 1 else "")
    return text + (f" ({threads} torch threads)" if threads and threads != cores else "")


def _setup(results: dict, stage: str) -> dict:
    return (results.get("stages") or {}).get(stage) or {}


def per_step(results: dict, stage: str) -> int | None:
    setup = _setup(results, stage)
    return setup["batch_size"] * setup.get("accumulation", 1) if "batch_size" in setup else None


def steps_words(steps: int, per_step: int | None, what: str) -> str:
    return f"{steps} steps" + (f" of {per_step} {what}" if per_step else "")


def _loss_words(results: dict, stage: str) -> str:
    setup = _setup(results, stage)
    if not setup.get("loss"):
        return ""
    terms = " + ".join(f"{weight:g} × {LOSS_WORDS.get(term, term)}" for term, weight in setup["loss"].items())
    return f": {terms} " + ("over the whole step" if setup.get("gradient_cache") else "over each forward")


def student_words(results: dict, short: bool = False) -> str:
    layers = results["study"]["plan"].get("student_layers", 3)  # older plans, without it, had 3 layers
    if short:
        return f"student ({6 if layers is None else layers} layers + jasper_mlp)"
    if layers is None:
        return "all of all-MiniLM-L6-v2 (a trained embedding model, as the report's student is)"
    return f"the first {layers} of all-MiniLM-L6-v2's 6 layers"


def _claim_stage2(page: ReproductionPage) -> str:
    verdict = page.verdicts["stage2-recovers"]
    f = verdict.figures
    setup = _setup(page.results, "stage2")
    start = MLP_STARTS.get(setup.get("mlp_init") or "identity", setup.get("mlp_init") or "")
    rows = [
        page.curve("stage1", "stage 1 + training-free pooling"),
        page.curve("stage2-start", "stage 2 at step 0 (stage 1 + new MLP)"),
        page.curve("stage2", "stage 2 (compressor trained at 0.33)"),
        page.curve("teacher", "teacher + training-free pooling (reference)"),
    ]
    outcome = (
        f"recovers {fmt(f['recovered_pct'])}% of the loss"
        if f["trained"] > f["free"]
        else f"ends {fmt(f['free'] - f['trained'])} points below the training-free pool and recovers none of the loss"
    )
    return "\n".join(
        [
            "## 1. Stage 2 recovers what a training-free compressor loses",
            "",
            "Stage 1 leaves a student without jasper_mlp; pooling its input embeddings at a ratio below 1",
            f"is the training-free compressor. Stage 2 inserts the SwiGLU MLP ({start})",
            "and trains with the pool at 0.33.",
            "",
            page.curves_table(rows),
            "",
            f"At 0.33 the training-free pool costs the stage-1 student {fmt(f['lost'])} points ({fmt(f['full'])} → "
            f"{fmt(f['free'])}); after stage 2 the student scores {fmt(f['trained'])} at 0.33, so stage 2 {outcome}. "
            f"The claim {verdict_words(verdict.holds)}"
            + (" and stage 2 at 0.33 even beats the uncompressed stage-1 student." if f["beats_uncompressed"] else ".")
            + f" Inserting the new MLP alone (stage 2 at step 0) puts the student at {fmt(f['start'])} at 0.33, and"
            f" training moves it {fmt(f['trained'] - f['start'])} points from there.",
        ]
    )


def _claim_dynamic(page: ReproductionPage) -> str:
    flat = page.verdicts["dynamic-flatter"]
    runs = page.results["judged"]["stage3_runs"]
    rows = [page.curve(run, f"stage 3 dynamic, seed {s}") for s, run in zip(page.seeds, runs["dynamic"])]
    rows += [page.curve(run, f"stage 3 fixed 0.33, seed {s}") for s, run in zip(page.seeds, runs["fixed"])]
    rows += [page.mean_curve(runs["dynamic"], "dynamic, mean of seeds")]
    rows += [page.mean_curve(runs["fixed"], "fixed 0.33, mean of seeds")]
    noise = ""
    if flat.figures.get("seed_apart") is not None:
        apart = fmt(flat.figures["seed_apart"])
        noise = f" The same variant lands on average {apart} points apart between seeds (per ratio)."
    per_ratio = []
    for name, verdict in page.verdicts.items():
        if name.startswith("dynamic-ahead-at-"):
            f = verdict.figures
            per_ratio.append(
                f"- at r={f['ratio']:g}: dynamic {fmt(f['dynamic'])} vs fixed {fmt(f['fixed'])} (mean of "
                f"{len(page.seeds)} seeds; dynamic ahead in {f['wins']} of {len(page.seeds)}): target "
                + verdict_words(verdict.holds)
            )
    return "\n".join(
        [
            "## 2. Dynamic-ratio training keeps quality flatter across ratios than fixed-ratio training",
            "",
            "Both start from the same stage-2 model and train the same number of steps on the same batches",
            f"(same seed, same loss{_loss_words(page.results, 'stage3')}); the only difference",
            "is the ratio of each step: Algorithm 2's draws, or always 0.33.",
            "",
            page.curves_table(rows),
            "",
            f"Spread across ratios {', '.join(f'{r:g}' for r in page.ratios)} (best minus worst, mean of seeds): "
            f"dynamic {fmt(flat.figures['spread_dynamic'])}, fixed {fmt(flat.figures['spread_fixed'])} points; "
            f"flatter with dynamic ratios: {verdict_words(flat.holds)}.{noise}",
            "",
            *per_ratio,
        ]
    )


def _claim_stage4(page: ReproductionPage) -> str:
    verdict = page.verdicts["stage4-better"]
    rows = [page.curve("stage3", "stage 3 (dynamic, seed 0)"), page.curve("stage4", "stage 4")]
    return "\n".join(
        [
            "## 3. Stage 4 improves retrieval over stage 3",
            "",
            "Stage 4 continues the seed-0 dynamic stage-3 model on title → paragraph triples with three",
            "teacher-mined hard negatives (InfoNCE + soft distillation + cosine, Algorithm-2 ratios).",
            "",
            page.curves_table(rows),
            "",
            page.task_table(["stage3", "stage4"], [1.0, 0.33]),
            "",
            f"Stage 4 is ahead at {verdict.figures['ahead']} of {verdict.figures['ratios']} ratios on the mean of the "
            f"retrieval tasks: the claim (better at every ratio) {verdict_words(verdict.holds)}.",
        ]
    )


def _speed_table(page: ReproductionPage) -> str:
    """ms per document, a row per model and length, with the speed-up over the teacher at ratio 1."""
    speed = page.results["speed"]
    cell = {(row["model"], row["length"], row["ratio"]): row["ms_per_doc"] for row in speed}
    rows = []
    for model in ("teacher", "student"):
        for length in sorted({row["length"] for row in speed}):
            base = cell.get(("teacher", length, 1.0))
            cells = [cell.get((model, length, r)) for r in page.ratios]
            rows.append(
                [model, str(length), *("–" if ms is None else f"{ms:.1f} ms ({base / ms:.1f}×)" for ms in cells)]
            )
    return markdown_table(["model", "length", *(f"r={r:g}" for r in page.ratios)], rows, text_columns=1)


def _claim_student(page: ReproductionPage) -> str:
    verdict = page.verdicts["student-keeps-at-0.33"]
    f = verdict.figures
    teacher = mean_over(page.scores["teacher"], 1.0, page.tasks)
    share = [
        "student, % of the teacher's r=1 score",
        *(fmt(100 * mean_over(page.scores["stage4"], r, page.tasks) / teacher) for r in page.ratios),
    ]
    rows = [
        page.curve("teacher", "teacher (6 layers) + training-free pooling"),
        page.curve("stage4", student_words(page.results, short=True)),
        share,
    ]
    per_task = ", ".join(f"{task} {fmt(value)}%" for task, value in f["per_task_pct"].items())
    batch = page.results["study"].get("speed_batch_size")
    return "\n".join(
        [
            "## 4. The student against its teacher at each ratio",
            "",
            "Quality (mean of the long-text tasks, nDCG@10 × 100):",
            "",
            page.curves_table(rows),
            "",
            page.task_table(["teacher", "stage4"], [1.0, 0.33, 0.1]),
            "",
            f"The final student at 0.33 keeps {fmt(f['keep_pct'])}% of its own ratio-1.0 score "
            f"(target ≥ {f['target_pct']:.0f}%): {verdict_words(verdict.holds)}. Task by task: {per_task}.",
            "",
            f"Speed: ms per document on {machine_words(page.results)} (fp32, "
            + (f"batches of {batch}, " if batch else "")
            + "long English Wikipedia documents cut",
            "to each length); in brackets the speed-up over the teacher at ratio 1 and the same length. One",
            "timed pass per cell after a warm-up: on this machine such timings drift by up to a third between",
            "runs, so read the trend along a row rather than single cells.",
            "",
            _speed_table(page),
        ]
    )


def _claim_held_out(page: ReproductionPage) -> str:
    verdict = page.verdicts["no-stage-below-its-start"]
    task = verdict.figures["task"]
    if verdict.holds is None:
        return ""
    chain = [("teacher", "the original (training-free pooling)"), ("stage1", "stage 1"), ("stage2", "stage 2")]
    chain += [("stage3", "stage 3 (dynamic, seed 0)"), ("stage4", "stage 4")]
    rows = [page.curve(run, label, [task]) for run, label in chain]
    labels = dict(chain)
    below = ", ".join(
        f"{labels[b['stage']]} at r={b['ratio']:g} ({fmt(b['change'])})" for b in verdict.figures["below"]
    )
    return "\n".join(
        [
            f"## 5. No stage falls below the model it started from, on {task}",
            "",
            "The held-out task: articles no training corpus of the project reads. Each stage is compared with",
            "the model it started from (stage 1 with the original) at every ratio.",
            "",
            page.curves_table(rows),
            "",
            f"The target (no stage below its start at any ratio) {verdict_words(verdict.holds)}"
            + (f": below at {below}." if below else "."),
        ]
    )


def _chinese(page: ReproductionPage) -> str:
    """The Chinese tasks, apart: the English model's vocabulary splits Chinese into single characters."""
    if not page.chinese:
        return ""
    runs = [n for n in ("teacher", "stage1", "stage2", "stage3", "stage4") if n in page.scores]
    return "\n".join(
        [
            f"## 6. The Chinese tasks, apart ({', '.join(page.chinese)})",
            "",
            "all-MiniLM-L6-v2's vocabulary splits Chinese into single characters, so pooling neighbouring",
            "tokens averages single characters, often of different words; these tasks are not part of the",
            "verdicts above. Mean nDCG@10 × 100:",
            "",
            page.curves_table([page.curve(n, page.labels.get(n, n), page.chinese) for n in runs]),
        ]
    )


SECTIONS = (_claim_stage2, _claim_dynamic, _claim_stage4, _claim_student, _claim_held_out, _chinese)
