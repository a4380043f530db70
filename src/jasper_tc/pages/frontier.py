"""The compression-design study's page (``docs/compression-frontier.md``), from ``results.json`` alone: the
training-free diagnosis, every trained design with its measured speed, the frontier plot and the bars'
verdicts."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_json
from ..figures import Figure, Line, Panel, draw
from ..results import Verdict, scores_by_task, share
from .tables import fmt, markdown_table

__all__ = ["write_frontier_page"]


def _ms(speed: list[dict], length: int, ratio: float) -> float | None:
    return next((r["ms_per_doc"] for r in speed if r["length"] == length and r["ratio"] == ratio), None)


def _diagnosis_table(results: dict) -> str:
    diagnosis = results["diagnosis"]
    runs, held_out = diagnosis["runs"], results["judged"]["held_out_task"]
    first = next(iter(runs.values()))
    reference = scores_by_task(first["results"])  # the original at ratio 1 (no placement pools at 1)
    ms_1 = _ms(first["speed"], 256, 1.0)
    head = ["placement", *(f"{t} % at r={r:g}" for t in (held_out, "XQuAD-en") for r in (0.33, 0.1))]
    head += [f"speed-up at 256, r={r:g}" for r in (0.33, 0.1)] + [f"last layer closeness, r={r:g}" for r in (0.33, 0.1)]
    rows = []
    for name, run in runs.items():
        scores = scores_by_task(run["results"])
        cells = [f"`{name}`"]
        cells += [fmt(share(scores, reference, r, [t]), 1) for t in (held_out, "XQuAD-en") for r in (0.33, 0.1)]
        cells += [fmt(ms_1 / _ms(run["speed"], 256, r), 2) + "×" for r in (0.33, 0.1)]
        cells += [fmt(run["closeness"][f"{r:g}"][-1], 3) for r in (0.33, 0.1)]
        rows.append(cells)
    return markdown_table(head, rows)


def _windows_table(results: dict) -> str:
    """Each windows probe: its share of the original's ratio-1 score per task and ratio."""
    probe, held_out = results["windows"], results["judged"]["held_out_task"]
    reference = scores_by_task(results["original"])
    columns = [(task, ratio) for task in (held_out, "XQuAD-en") for ratio in probe["ratios"]]
    head = ["windows", "ends kept", *(f"{task} % at r={ratio:g}" for task, ratio in columns)]
    rows = []
    for run in probe["runs"].values():
        scores = scores_by_task(run["results"])
        cells = [run["windows"], str(run["keep_ends"])]
        rows.append(cells + [fmt(share(scores, reference, ratio, [task]), 1) for task, ratio in columns])
    return markdown_table(head, rows)


def _closeness_table(results: dict) -> str:
    runs = results["diagnosis"]["runs"]
    layers = len(next(iter(runs.values()))["closeness"]["0.33"])
    head = ["placement (r=0.33)", *(f"after layer {i + 1}" for i in range(layers))]
    rows = [[f"`{name}`", *(fmt(c, 3) for c in run["closeness"]["0.33"])] for name, run in runs.items()]
    return markdown_table(head, rows)


def _design_table(results: dict) -> str:
    ratios = results["study"]["ratios"]
    points = {(p["run"], p["ratio"]): p for p in results["points"]}
    variants = {v["name"]: v for v in results["variants"]}
    short = results["judged"]["short_task"]
    head = ["run", "what differs", "train min", *(f"r={r:g}: held-out % / speed-up (600M)" for r in ratios), short]
    rows = []
    for name in ["original (training-free)", *results["runs"]]:
        run = results["runs"].get(name)
        cells = [f"`{name}`", variants[name]["change"] if name in variants else "no training", "–"]
        if run is not None:
            cells[2] = f"{run['train_s'] / 60:.1f}"
        for ratio in ratios:
            point = points.get((name, ratio))
            modelled = point and point.get("modelled_600m_speed_up")
            shown = "–" if point is None else f"{fmt(point['held_out_pct'], 1)} / {point['speed_up']:.2f}×"
            cells.append(shown + (f" ({modelled:.1f}×)" if modelled else ""))
        scores = scores_by_task((run or {"results": results["original"]})["results"])
        cells.append(fmt(100 * scores[short]["1"]) if short in scores else "–")
        rows.append(cells)
    return markdown_table(head, rows, text_columns=2)


def _verdict_lines(results: dict) -> list[str]:
    lines = []
    for verdict in map(Verdict.of, results["verdicts"]):
        best = verdict.figures["best"]
        said = {True: "**met**", False: "**not met**", None: "**not measured**"}[verdict.holds]
        where = "no point that fast" if best is None else (
            f"best: `{best['run']}` at r={best['ratio']:g}, {best['held_out_pct']:.1f}% at {best['speed_up']:.2f}×"
        )  # fmt: skip
        if best and best.get("speed_up_rounds"):
            low, high = best["speed_up_rounds"]
            where += f"; one round alone put its speed-up between {low:.2f}× and {high:.2f}×"
        lines.append(f"- ≥ {verdict.figures['kept_pct']:g}% at ≥ {verdict.figures['speed_up']:g}× : {said} ({where}).")
    return lines


def _figure(results: dict) -> Figure:
    lines = []
    for name in dict.fromkeys(p["run"] for p in results["points"]):
        mine = sorted((p for p in results["points"] if p["run"] == name), key=lambda p: p["speed_up"])
        lines.append(
            Line(
                name,
                [p["speed_up"] for p in mine],
                [p["held_out_pct"] for p in mine],
                ":" if "original" in name else "-",
            )
        )
    frontier = sorted((p for p in results["points"] if p["frontier"]), key=lambda p: p["speed_up"])
    lines.append(Line("frontier", [p["speed_up"] for p in frontier], [p["held_out_pct"] for p in frontier], "k--"))
    right = max(p["speed_up"] for p in results["points"])
    for verdict, style in zip(map(Verdict.of, results["verdicts"]), ("r:", "m:")):  # each bar's corner
        fast, kept = verdict.figures["speed_up"], verdict.figures["kept_pct"]
        corner = ([fast, fast, max(right, fast)], [100.0, kept, kept])
        lines.append(Line(f"bar: {kept:g}% at {fast:g}×", *corner, style, marker=None))
    panel = Panel(
        "all-MiniLM-L6-v2, 256-token documents", lines, xlabel="speed-up over the original at ratio 1 (measured)",
        ylabel=f"{results['judged']['held_out_task']}: % of the original's ratio-1 nDCG@10",
    )  # fmt: skip
    return Figure([panel], panel_size=(8, 5.5), legend_size=7)


def _timing_lines(results: dict) -> list[str]:
    """How the speeds were taken, and which runs share a shape (and so one timing)."""
    if "speed_method" not in results:  # a study timed before runs were timed by shape
        return []
    shapes: dict[str, list[str]] = {}
    for name, run in results["runs"].items():
        shapes.setdefault(run["timed_as"], []).append(name)
    shared = "; ".join(f"`{shape}`: " + ", ".join(f"`{n}`" for n in names) for shape, names in shapes.items()
                       if len(names) > 1)  # fmt: skip
    return [
        f"Documents timed: {results['speed_method']}. Every run is timed as its shape (where and how it pools, and",
        "whether an MLP runs over every token: the source model built into that architecture, since the work of a",
        "forward does not depend on the weights), every shape in the same alternating rounds as the original, so",
        "no speed-up below is against an original timed at another sitting.",
        *([f"Runs that share a shape, and so one timing: {shared}."] if shared else []),
    ]


def _diagnosis_lines(results: dict) -> list[str]:
    """The training-free diagnosis: placements, their closeness layer by layer."""
    if not results.get("diagnosis"):
        return []
    return [
        "## Diagnosis, training-free: where the pool loses what the model knows",
        "",
        "The original model, pooled without training at each placement: share of its ratio-1 score kept,",
        "measured speed-up, and how close its compressed last-layer token states stay to its uncompressed",
        "states pooled by the same windows (mean cosine).",
        "",
        _diagnosis_table(results),
        "",
        *(
            [
                "The diagnosis' speed-ups were timed when it ran, on longer articles cut inside the timed encode",
                "(their tokenizing included): compare them with one another, not with the designs above.",
                "",
            ]
            if "speed_method" in results
            else []
        ),
        "The same closeness after every layer (at r=0.33; 1.000 before the pool acts):",
        "",
        _closeness_table(results),
        "",
    ]


def _windows_lines(results: dict) -> list[str]:
    """The training-free windows probe: the release's windows against disjoint ones."""
    if not results.get("windows"):
        return []
    return [
        "## Diagnosis, training-free: which windows the pool averages over",
        "",
        "The release's pool is an adaptive average pool: where two windows meet they share a token, so that",
        "at ratios near 1 nearly every window blends two or three tokens. Disjoint windows",
        "(`compress_windows: disjoint`) put each token in one window. The original model, pooled without",
        "training, with the release's windows and with disjoint ones, with no end kept whole and with 39 at",
        "each end; and with windows chosen by the text (`compress_pool: merge`: in each pass every other token",
        "may join its more alike neighbour, the most alike first, until the sample has its length), with",
        "[CLS] and [SEP] kept whole and with 39 at each end (share of its ratio-1 score):",
        "",
        _windows_table(results),
        "",
    ]


def write_frontier_page(results: dict, page: Path) -> None:
    """``page`` and, in ``<stem>/``, its plot and the results it was written from."""
    pictures = page.parent / page.stem
    pictures.mkdir(parents=True, exist_ok=True)
    draw(_figure(results), pictures / "frontier.png")
    atomic_write_json(pictures / "results.json", results)
    study, cores = results["study"], results.get("machine", {}).get("cpu_count", "a few")
    text = [
        "# Where and how to compress: the quality-speed frontier",
        "",
        "Written by `jasper-tc compression-study --design` from "
        f"[`{page.stem}/results.json`]({page.stem}/results.json).",
        f"Model: `{study['model']}`, its own teacher; every design trains at `jasper-tc adapt`'s budget "
        f"({', '.join(study['base_overrides'])}) unless its row says otherwise. Quality: nDCG@10 at 256 tokens as a "
        "share of the",
        f"original's ratio-1 score on {results['judged']['held_out_task']} (held out from every training corpus);",
        f"speed: ms per 256-token document measured on this machine ({cores} CPU cores) in the same run, as a",
        "speed-up over the original model at ratio 1; in brackets, the same design's modelled speed-up on the",
        "release's 600M backbone for a 1,024-token input (multiply-adds against the backbone alone at ratio 1).",
        *_timing_lines(results),
        "",
        "## The bars",
        "",
        *_verdict_lines(results),
        "",
        f"![quality against speed]({page.stem}/frontier.png)",
        "",
        "## Trained designs",
        "",
        _design_table(results),
        "",
    ]
    text += _diagnosis_lines(results) + _windows_lines(results)
    page.write_text("\n".join(text), encoding="utf-8")
