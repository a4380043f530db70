"""The long-document study's page, from ``results.json`` alone: the targets as the study judged them, and per
model and strategy, quality and encode time on the long articles and at each synthetic length, with two
plots (quality and time against length)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_json
from ..figures import Figure, Line, Panel, draw
from ..results import Verdict
from .tables import markdown_table

__all__ = ["write_long_document_page"]


def _cell(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _buckets(rows: list[dict], task: str) -> list[tuple[str, int, int]]:
    """A real task's length buckets as measured: (name, documents, queries), shortest first."""
    seen = {
        r["bucket"]: (r["length"], r["documents"], r["queries"]) for r in rows if r["task"] == task and r.get("bucket")
    }
    return [(name, d, q) for name, (_, d, q) in sorted(seen.items(), key=lambda item: item[1][0])]


def _bucket_table(results: dict, task: str) -> str:
    """nDCG@10 and ms per document of each model and strategy, per length bucket of a real task."""
    rows, buckets = results["rows"], _buckets(results["rows"], task)
    lines = []
    for model in results["study"]["models"]:
        for strategy in results["study"]["strategies"]:
            cells = [_cell(rows, model=model, strategy=strategy, task=task, bucket=b) for b, _, _ in buckets]
            quality = [f"{100 * c['ndcg_at_10']:.1f}" if c else "–" for c in cells]
            lines.append([model, strategy, *quality, *(f"{c['ms_per_doc']:.0f}" if c else "–" for c in cells)])
    head = [f"{b} tokens ({d} docs, {q} queries)" for b, d, q in buckets]
    return markdown_table(["model", "strategy", *head, *(f"ms/doc {b}" for b, _, _ in buckets)], lines, text_columns=2)


def _stored(cell: dict | None, multi: bool) -> str:
    """Vectors a document keeps: one, or (multi-vector) as many as measured (results before the count: –)."""
    if cell is None or (multi and "vectors_per_doc" not in cell):
        return "–"
    return f"{cell['vectors_per_doc']:.1f}" if multi else "1"


def _real_table(results: dict) -> str:
    rows, tasks = results["rows"], results["study"]["real_tasks"]
    lines = []
    for model in results["study"]["models"]:
        for strategy in results["study"]["strategies"]:
            cells = [_cell(rows, model=model, strategy=strategy, task=t, bucket=None) for t in tasks]
            quality = [f"{100 * c['ndcg_at_10']:.2f}" if c else "–" for c in cells]
            speed = [f"{c['ms_per_doc']:.0f}" if c else "–" for c in cells]
            multi = results["study"]["strategies"][strategy].get("multi_vector")
            stored = [_stored(c, multi) for c in cells]
            lines.append([model, strategy, *quality, *speed, *stored])
    head = ["model", "strategy", *(f"{t} nDCG@10" for t in tasks), *(f"{t} ms/doc" for t in tasks)]
    head += [f"{t} vectors/doc" for t in tasks]
    return markdown_table(head, lines, text_columns=2)


def _synthetic_table(results: dict, kind: str, key: str) -> str:
    rows, lengths = results["rows"], results["study"]["lengths"]
    lines = []
    for model in results["study"]["models"]:
        for strategy in results["study"]["strategies"]:
            cells = [_cell(rows, model=model, strategy=strategy, task=kind, length=n) for n in lengths]
            scale = 100 if key == "ndcg_at_1" else 1
            lines.append([model, strategy, *("–" if c is None else f"{scale * c[key]:.0f}" for c in cells)])
    return markdown_table(["model", "strategy", *(f"{n:,}" for n in lengths)], lines, text_columns=2)


def _targets(results: dict) -> str:
    """The best compressed strategy of each kind against its baseline, per model and task, as judged."""
    rows = []
    for verdict in map(Verdict.of, results["verdicts"]):
        f = verdict.figures
        if verdict.holds is None:
            rows.append([f["model"], f["family"], f["kind"], "–", "–", "–", "–", "not measured"])
            continue
        over = "–" if f.get("minus_truncate") is None else f"{f['minus_truncate']:+.1f}"
        rival = f.get("minus_best_baseline")
        rival = "–" if rival is None else f"{rival:+.1f} ({f['best_baseline_model']})"
        met = "yes" if verdict.holds else "no"
        rows.append([f["model"], f["family"], f"{f['kind']} (vs {f['baseline']})", f["strategy"],
                     f"{f['minus_baseline']:+.1f}", rival, over, f"{f['time_over_baseline']:.2f}", met])  # fmt: skip
    head = ["model", "task", "kind (baseline)", "best compressed", "− baseline", "− a better model's baseline"]
    return markdown_table([*head, "− truncate", "time / baseline", "target met"], rows, text_columns=4)


# The plots keep one line per kind of strategy for the study's first model, and the baselines of the others:
# a line for every model and strategy (63 of them) hides the data. The tables give every cell.
PLOTTED = ("truncate", "fit-256", "segments-512", "segments-768-b224", "chunk", "late-max-512",
           "late-max-512-b208-s32", "chunk-max")  # fmt: skip
BASELINES = ("chunk", "chunk-max")


def _plotted(study: dict) -> list[tuple[int, str, str]]:
    """(model index, model, strategy) of each line to draw."""
    models, strategies = list(study["models"]), list(study["strategies"])
    chosen = [s for s in strategies if s in PLOTTED] or strategies
    others = [s for s in strategies if s in BASELINES] or chosen
    return [(0, models[0], s) for s in chosen] + [(i, m, s) for i, m in enumerate(models) if i for s in others]


def _lines(results: dict, key: str, keep: Callable[[dict], bool]) -> list[Line]:
    """One line per plotted model and strategy through the rows ``keep`` takes, by length."""
    styles, lines = ["-", "--", ":", "-."], []
    for i, model, strategy in _plotted(results["study"]):
        points = sorted(
            (r["length"], r[key]) for r in results["rows"]
            if r["model"] == model and r["strategy"] == strategy and keep(r)
        )  # fmt: skip
        if points:
            values = [100 * v if key.startswith("ndcg") else v for _, v in points]
            lines.append(Line(f"{model}, {strategy}", [n for n, _ in points], values, styles[i % 4]))
    return lines


def _figure(results: dict, quality: bool) -> Figure:
    """Per real task (its length buckets) and per synthetic kind: quality or time against document length."""
    study, panels = results["study"], []
    ylabel = {True: "nDCG@10 × 100", False: "ms per document"}[quality]
    for task in study["real_tasks"]:
        in_buckets = lambda r, t=task: r["task"] == t and r.get("bucket") is not None  # noqa: E731
        lines = _lines(results, "ndcg_at_10" if quality else "ms_per_doc", in_buckets)
        panels.append(_panel(f"{task} (by document length)", lines, ylabel, quality))
    for kind in study["kinds"]:
        lines = _lines(results, "ndcg_at_1" if quality else "ms_per_doc", lambda r, k=kind: r["task"] == k)
        panels.append(_panel(kind, lines, "nDCG@1 × 100" if quality else ylabel, quality))
    return Figure(panels, panel_size=(8.5, 4.8), legend_size=7, legend_outside=True)


def _panel(title: str, lines: list[Line], ylabel: str, quality: bool) -> Panel:
    return Panel(title, lines, xlabel="document length (tokens)", ylabel=ylabel, xscale="log",
                 yscale="linear" if quality else "log")  # fmt: skip


def _precisions(results: dict) -> str:
    """How each model encoded (older results: as saved, fp32)."""
    precision = results.get("precision") or {}
    return ", ".join(f"{model}: {precision.get(model, 'fp32')}" for model in results["study"]["models"])


def _bucket_sections(results: dict) -> list[str]:
    """Each real task by document length: a bucket's queries are those whose document lies in it."""
    sections = []
    for task in results["study"]["real_tasks"]:
        if _buckets(results["rows"], task):
            sections += [f"### {task} by document length", "", _bucket_table(results, task), ""]
    return sections


def write_long_document_page(results: dict, page: Path) -> None:
    """``page`` and, in ``<stem>/``, the two plots and a copy of the results."""
    pictures = page.parent / page.stem
    pictures.mkdir(parents=True, exist_ok=True)
    draw(_figure(results, quality=True), pictures / "quality_vs_length.png")
    draw(_figure(results, quality=False), pictures / "time_vs_length.png")
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
        "Differences in nDCG points (nDCG@10 on each real task, nDCG@1 × 100 averaged over the synthetic tasks at",
        f"4× the {results['targets']['window']}-token window and more); time as a ratio of ms per document.",
        "The targets: the best single-vector compressed strategy (fit, segments, late chunking, chunk with each",
        "window pooled) within 1 point of chunk-and-mean at no more than a third of its time; the best",
        "multi-vector one (segments-max, late-max, or chunk-max with each window pooled) within 1 point of",
        "chunk-max (each window its own vector, a query scoring its best) at no more than half of its time.",
        "Where another model of the study scores higher with the baseline (the original model chunked, as a user",
        "would run it instead), the gap to that score is given too. A real task with documents under 4,096 tokens",
        "is judged again on its documents of 4,096 tokens and more (`4k+`: its length buckets from 4,096 on,",
        "scores weighted by their queries and times by their documents).",
        "",
        _targets(results),
        "",
        "## Real long documents (a sentence from deep inside the document as the query)",
        "",
        f"Encoded in {_precisions(results)}. Vectors/doc: what a document keeps (a multi-vector strategy's",
        "vectors, which a query scores and an index stores; – where measured before the count).",
        "",
        _real_table(results),
        "",
        f"The plots draw one strategy of each kind for {next(iter(study['models']))} and the baselines (chunk,",
        "chunk-max) of the other models, by length bucket; the tables give every cell.",
        "",
        "![quality vs length](" + f"{page.stem}/quality_vs_length.png)",
        "",
        *_bucket_sections(results),
    ]
    if study["kinds"]:
        sections += [
            f"## Synthetic tasks (LongEmbed-style; {study['documents']} documents, {study['queries']} queries per "
            "length; nDCG@1 × 100)",
            "",
        ]
    for kind in study["kinds"]:
        sections += [f"### {kind}", "", _synthetic_table(results, kind, "ndcg_at_1"), ""]
        sections += ["ms per document:", "", _synthetic_table(results, kind, "ms_per_doc"), ""]
    sections += ["![time vs length](" + f"{page.stem}/time_vs_length.png)", ""]
    page.write_text("\n".join(sections), encoding="utf-8")
