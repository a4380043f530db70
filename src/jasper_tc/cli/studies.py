"""``jasper-tc quickstart``, ``reproduce`` and ``compression-study``: the studies, run end to end."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from . import app


def _offline() -> None:
    """The studies read only what ships with the package and installed models: never wait on a hub.

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, when first imported (this package's own import has
    done so already), so its flag is set here too; the variable reaches the processes a command starts.
    A user's own ``HF_HUB_OFFLINE=0`` is kept.
    """
    import os

    import huggingface_hub.constants

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    huggingface_hub.constants.HF_HUB_OFFLINE = os.environ["HF_HUB_OFFLINE"].upper() in {"1", "ON", "YES", "TRUE"}


def _page_from_results(output: Path, document: Path, write) -> None:
    """``--document-only``: the page rewritten from ``OUTPUT/results.json`` alone (an error if there is none)."""
    results_file = output / "results.json"
    if not results_file.is_file():
        raise typer.BadParameter(f"{results_file} does not exist: run the study first (without --document-only)")
    write(json.loads(results_file.read_text(encoding="utf-8")), document)
    typer.echo(f"wrote {document}")


def checked_scale(scale: str):
    """``--scale``, or a usage error naming the scales there are."""
    from ..recipes.scales import check_scale

    try:
        return check_scale(scale)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@contextmanager
def _phase_failures():
    """A failed phase of a study ends the command with exit 1 and one message naming the phase and cause; a
    stopped stage, with exit 130 and how to go on."""
    from ..phases import PhaseFailed
    from ..recipes import StageStopped

    try:
        yield
    except PhaseFailed as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except StageStopped as stop:
        typer.echo(f"{stop}", err=True)
        raise typer.Exit(130) from None


@app.command(rich_help_panel="End to end")
def quickstart(
    output: Annotated[Path, typer.Option(help="Folder for everything the run writes.")] = Path("quickstart-output"),
    recipe: Annotated[
        str,
        typer.Option(help="'adapt' (all-MiniLM-L6-v2 made compression-ready) or 'four-stage' (the report's recipe)."),
    ] = "adapt",
    scale: Annotated[
        str, typer.Option(help="'full' (minutes on 2 cores) or 'smoke' (a quick check of every phase).")
    ] = "full",
) -> None:
    """all-MiniLM-L6-v2 made compression-ready on one CPU, with its card: quality and speed per ratio
    against the original and against training-free pooling, on tasks no stage trained on.

    --recipe four-stage runs the report's life cycle instead (teacher store, stages 1-4, evaluation).
    Started again after an interruption, either goes on where it stopped.
    """
    scale = checked_scale(scale)
    if recipe not in ("adapt", "four-stage"):
        raise typer.BadParameter(f"--recipe must be 'adapt' or 'four-stage', got {recipe!r}")
    _offline()
    started = time.perf_counter()
    say = lambda text: typer.echo(text, err=True)  # noqa: E731
    if recipe == "adapt":
        from ..adapt import run_adapt
        from ..pages.card import quality_table
        from ..studies.quickstart import quickstart_plan

        with _phase_failures():
            summary = run_adapt(quickstart_plan(output, scale), say=say)
        typer.echo(quality_table(summary))
        typer.echo(f"\nmodel: {summary['output_model']} (its card, with the plot: README.md there)")
    else:
        from ..studies.lifecycle import SMOKE_SIZES, Plan, run_lifecycle

        with _phase_failures():
            summary = run_lifecycle(Plan(output=output, **(SMOKE_SIZES if scale == "smoke" else {})), say=say)
        typer.echo(summary["table"])
        typer.echo(f"\nstudent: {summary['model']}")
        typer.echo(f"report: {output / 'report.md'} (plot: {output / 'report' / 'comparison.png'})")
    typer.echo(f"done in {time.perf_counter() - started:.0f} s")


@app.command(rich_help_panel="End to end")
def reproduce(
    output: Annotated[Path, typer.Option(help="Folder for every run of the study.")] = Path("runs/reproduction"),
    document: Annotated[Path, typer.Option(help="The Markdown page to write (plots go beside it).")] = Path(
        "docs/reproduction.md"
    ),
    scale: Annotated[str, typer.Option(help="'full' (about 110 min on 2 cores) or 'smoke' (a toy check).")] = "full",
    document_only: Annotated[
        bool, typer.Option(help="Rewrite the page from OUTPUT/results.json without running anything.")
    ] = False,
) -> None:
    """Test the report's claims at CPU scale (stage 2, dynamic ratios, stage 4, student vs teacher).

    Runs the quickstart's life cycle larger, plus a fixed-ratio stage 3 per seed and the speed of
    teacher and student; writes DOCUMENT with tables and plots. Started again, it resumes.
    """
    scale = checked_scale(scale)
    _offline()
    from ..studies import full_study, reproduce, smoke_study, write_document

    if document_only:
        return _page_from_results(output, document, write_document)
    study = (full_study if scale == "full" else smoke_study)(output)
    with _phase_failures():
        reproduce(study, document, say=lambda text: typer.echo(text, err=True))
    typer.echo(f"wrote {document}")


@app.command("compression-study", rich_help_panel="End to end")
def compression_study(
    output: Annotated[Path, typer.Option(help="Folder for every run of the study.")] = Path("runs/compression-study"),
    document: Annotated[Path, typer.Option(help="The Markdown page to write (its plot goes beside it).")] = Path(
        "docs/compression-training.md"
    ),
    large_corpus: Annotated[
        Path | None, typer.Option(help="English paragraphs (.jsonl, 'text') for the data-size run; skipped without.")
    ] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated run names (default: every run).")] = None,
    design: Annotated[
        bool, typer.Option(help="The design study instead: where and how to pool, against measured speed.")
    ] = False,
    document_only: Annotated[
        bool, typer.Option(help="Rewrite the page from OUTPUT/results.json without running anything.")
    ] = False,
    add: Annotated[
        bool,
        typer.Option(
            help="With --design: keep the page's runs (and diagnosis) that this run does not train; every run is "
            "timed again, as its shape, beside the original."
        ),
    ] = False,
    retime: Annotated[
        bool, typer.Option(help="With --design --add: train nothing, only time every run of the page again.")
    ] = False,
) -> None:
    """What makes training the compressor lose quality, and what fixes it: one run per question (what
    trains, the MLP's start, data, learning rate, loss, stages), all evaluated alike. With --design: the
    training-free diagnosis and the designs (the pool after a layer, ends kept, a scored pool, a token-level
    term) on the quality-speed frontier (into runs/compression-frontier and docs/compression-frontier.md
    unless --output and --document say otherwise). Resumes."""
    _offline()
    if design:
        from ..studies import frontier as chosen

        output = Path("runs/compression-frontier") if output == Path("runs/compression-study") else output
        document = Path("docs/compression-frontier.md") if document.name == "compression-training.md" else document
    else:
        from ..studies import compression as chosen
    if document_only:
        return _page_from_results(output, document, chosen.write_page)
    if retime and not (design and add):
        raise typer.BadParameter("--retime times the runs of an earlier design study: give it with --design --add")
    if design:
        earlier = _page_results(document) if add else None
        variants = () if retime else _chosen_variants(chosen.DESIGNS, only)
        study = chosen.FrontierStudy(output=output, variants=variants, earlier=earlier)
        run = chosen.run_frontier_study
    else:
        variants = _chosen_variants(chosen.VARIANTS, only)
        study = chosen.CompressionStudy(output=output, large_corpus=large_corpus, variants=variants)
        run = chosen.run_compression_study
    with _phase_failures():
        results = run(study, say=lambda text: typer.echo(text, err=True))
    chosen.write_page(results, document)
    typer.echo(f"wrote {document}")


def _page_results(document: Path) -> dict:
    """The results a page was written from (``<page stem>/results.json`` beside it), or a usage error."""
    found = document.parent / document.stem / "results.json"
    if not found.is_file():
        raise typer.BadParameter(f"--add: {found} does not exist (there is no earlier run to add to)")
    return json.loads(found.read_text(encoding="utf-8"))


def _chosen_variants(variants: tuple, only: str | None) -> tuple:
    """The runs ``--only`` names (all when it names none); an unknown name is a usage error listing them."""
    if not only:
        return variants
    names = [n.strip() for n in only.split(",")]
    unknown = sorted(set(names) - {v.name for v in variants})
    if unknown:
        raise typer.BadParameter(f"--only: no run {', '.join(unknown)} (runs: {', '.join(v.name for v in variants)})")
    return tuple(v for v in variants if v.name in names)


@app.command("long-documents-study", rich_help_panel="End to end")
def long_documents_study(
    model: Annotated[
        list[str] | None, typer.Option(help="LABEL=MODEL, repeated (default: all-MiniLM-L6-v2 as 'original').")
    ] = None,
    output: Annotated[Path, typer.Option(help="Folder for every measurement.")] = Path("runs/long-documents"),
    document: Annotated[Path, typer.Option(help="The Markdown page to write (plots beside it).")] = Path(
        "docs/long-documents.md"
    ),
    lengths: Annotated[str, typer.Option(help="Synthetic document lengths, comma-separated tokens.")] = (
        "256,512,1024,2048,4096,8192"
    ),
    cap: Annotated[int, typer.Option(help="Tokens fit and chunk read per document.")] = 36864,
    kinds: Annotated[
        str, typer.Option(help="Synthetic tasks, comma-separated (passkey, needle); '' for the real tasks only.")
    ] = "passkey,needle",
    dtype: Annotated[
        str | None, typer.Option(help="How the models encode: auto (fastest within cosine 0.999 here), fp32, bf16.")
    ] = None,
    document_only: Annotated[bool, typer.Option(help="Rewrite the page from OUTPUT/results.json only.")] = False,
) -> None:
    """Documents far past the window: truncation, compress-to-fit, segments and chunking (mean and max), per
    model, on two real long-document tasks (whole and by length) and synthetic passkey / needle tasks;
    quality and time per length."""
    _offline()
    from ..studies.long_documents import LongDocumentStudy, run_long_document_study
    from ..studies.long_documents import write_page as write_long_document_page

    if document_only:
        return _page_from_results(output, document, write_long_document_page)
    models = {}
    for item in model or ["original=sentence-transformers/all-MiniLM-L6-v2"]:
        label, _, path = item.partition("=")
        if not path:
            raise typer.BadParameter(f"--model must be LABEL=MODEL, got {item!r}")
        models[label] = path
    try:
        sizes = tuple(int(n) for n in lengths.split(","))
    except ValueError:
        raise typer.BadParameter(f"--lengths must be comma-separated integers, got {lengths!r}") from None
    from ..encode.precision import parse_precision

    try:
        parse_precision(dtype)  # named now, not after the first model loads
    except ValueError as error:
        raise typer.BadParameter(f"--dtype: {error}") from None
    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip())
    if unknown := sorted(set(chosen) - {"passkey", "needle"}):
        raise typer.BadParameter(f"--kinds: unknown synthetic task(s) {', '.join(unknown)}; use passkey, needle")
    study = LongDocumentStudy(output=output, models=models, lengths=sizes, cap=cap, kinds=chosen, dtype=dtype)
    with _phase_failures():
        results = run_long_document_study(study, say=lambda text: typer.echo(text, err=True))
    write_long_document_page(results, document)
    typer.echo(f"wrote {document}")
