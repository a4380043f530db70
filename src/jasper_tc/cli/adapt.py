"""``jasper-tc adapt``: any mean-pooled embedding model, compression-ready, with a measured card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..adapt.designs import DEFAULT as DEFAULT_DESIGN
from ..recipes.scales import ADAPT_TASKS, ratios_text
from . import app
from .studies import _offline, _phase_failures, checked_scale


@app.command(rich_help_panel="End to end")
def adapt(
    model: Annotated[str, typer.Option(help="A sentence-transformers or transformers embedding model (mean-pooled).")],
    corpus: Annotated[Path, typer.Option(help="Training texts: .txt (one a line), .jsonl or .parquet (.gz ok).")],
    output: Annotated[Path, typer.Option(help="Folder for everything; the model goes to OUTPUT/model.")],
    text_field: Annotated[str, typer.Option(help="Text field of .jsonl/.parquet records.")] = "text",
    max_texts: Annotated[int | None, typer.Option(help="Use the first N texts of the corpus.")] = None,
    max_length: Annotated[int, typer.Option(help="Tokens per text, in training and evaluation.")] = 256,
    eval_tasks: Annotated[
        str, typer.Option(help="Tasks of the local-bilingual suite, comma-separated (none trains on them).")
    ] = ",".join(ADAPT_TASKS),
    eval_limit: Annotated[int | None, typer.Option(help="Queries / pairs per task (default: all).")] = None,
    ratios: Annotated[str, typer.Option(help="Comma-separated ratios to measure.")] = ratios_text(),
    scale: Annotated[str, typer.Option(help="'full' or 'smoke' (every phase at toy size).")] = "full",
    long_documents: Annotated[
        bool,
        typer.Option(
            help="Also train for documents past the window: whole, as long_inputs='fit' reads them, then by segments."
        ),
    ] = False,
    design: Annotated[
        str,
        typer.Option(
            help="A point of the design study's frontier (docs/compression-frontier.md); base is the earlier recipe."
        ),
    ] = DEFAULT_DESIGN,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[
        str,
        typer.Option(help="How evaluation and speed encode: auto (fastest within cosine 0.999 here), fp32, bf16."),
    ] = "auto",
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Recipe overrides: fixed.KEY=V, dynamic.KEY=V, stages.KEY=V (both), teach.KEY=V, long.KEY=V, "
            "segments.KEY=V, teach-long.KEY=V."
        ),
    ] = None,
) -> None:
    """Make a model compression-ready: it teaches itself at ratio 1, then learns to keep its embeddings
    and token states under the pool at every ratio (the ends of an input kept whole), and a card reports
    quality and speed per ratio against the original.

    Started again after a stop, it goes on where it was. The recipe is configs/adapt/*.yaml.
    """
    from .evaluate import _ratios

    scale = checked_scale(scale)
    _offline()
    from ..adapt import SMOKE, SMOKE_OVERRIDES, AdaptPlan, UnsupportedModel, run_adapt

    sizes: dict = {"max_texts": max_texts, "eval_limit": eval_limit, "ratios": tuple(_ratios(ratios))}
    from ..adapt.designs import design_overrides

    try:
        extra = [*design_overrides(design), *(overrides or [])]
    except ValueError as error:
        typer.echo(f"error: --design: {error}", err=True)
        raise typer.Exit(2) from None
    if scale == "smoke":
        sizes |= SMOKE
        extra = [*SMOKE_OVERRIDES, *extra]
    try:
        plan = AdaptPlan(
            model=model, corpus=corpus, output=output, text_field=text_field, max_length=max_length,
            eval_tasks=tuple(t.strip() for t in eval_tasks.split(",") if t.strip()), overrides=tuple(extra),
            device=device, dtype=dtype, long_documents=long_documents, extra={"scale": scale, "design": design},
            **sizes,
        )  # fmt: skip
        with _phase_failures():
            summary = run_adapt(plan, say=lambda text: typer.echo(text, err=True))
    except (UnsupportedModel, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    from ..pages.card import quality_table

    typer.echo(quality_table(summary))
    typer.echo(f"\nmodel: {summary['output_model']} (card: {summary['output_model']}/README.md)")
