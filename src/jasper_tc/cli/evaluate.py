"""``jasper-tc eval``, ``eval-compare`` and ``mteb``: quality and speed at every ratio."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from ..recipes.scales import ratios_text
from . import app
from .reading import LateChunking, LateChunkLength, LongInputs, SegmentLength, TokenBudget


def _ratios(text: str) -> list[float]:
    from ..model import check_ratio

    try:
        return [check_ratio(float(x), "--ratios") for x in text.split(",")]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@app.command("eval", rich_help_panel="Evaluation")
def evaluate(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    suite: Annotated[
        str, typer.Option(help="A shipped suite by name (local-bilingual) or a suite YAML file of your own.")
    ],
    ratios: Annotated[str, typer.Option(help="Comma-separated compression ratios.")] = ratios_text(),
    tasks: Annotated[str | None, typer.Option(help="Comma-separated task names (default: every task).")] = None,
    output: Annotated[Path | None, typer.Option(help="Run folder; default eval-runs/<model name>.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name in results; default the folder's name.")] = None,
    prompts: Annotated[
        bool, typer.Option(help="Use the suite's per-task prompts (off for models without them).")
    ] = True,
    latency: Annotated[bool, typer.Option(help="Also measure latency vs input length on long documents.")] = True,
    batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 32,
    max_length: Annotated[int | None, typer.Option(help="Tokens read per input (default the model's).")] = None,
    long_inputs: LongInputs = "truncate",
    token_budget: TokenBudget = None,
    segment_length: SegmentLength = None,
    late_chunking: LateChunking = False,
    late_chunk_length: LateChunkLength = None,
    multi_vector: Annotated[
        bool,
        typer.Option(help="Retrieval documents keep a vector per window, segment or stretch; a query scores its best."),
    ] = False,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[str | None, typer.Option(help="fp32, bf16 or fp16.")] = None,
    allow_errors: Annotated[
        bool, typer.Option(help="Exit 0 even when tasks fail (they are recorded with their error either way).")
    ] = False,
    overrides: Annotated[list[str] | None, typer.Argument(help="suite overrides, e.g. tasks.0.limit=100")] = None,
) -> None:
    """Evaluate a model on a local suite at several ratios: JSON per task x ratio, a table and plots.

    A task that fails is recorded with its error and the others go on; the command then exits 1, naming
    the failed tasks (unless --allow-errors).
    """
    from ..evaluation import report
    from ..evaluation.suite import TaskFailures, failed_tasks, run_suite

    ratio_list = _ratios(ratios)
    config, root = _suite(suite, overrides or [], prompts, tasks)
    name = name or Path(model).name or model
    output = output or Path("eval-runs") / name
    options = {"batch_size": batch_size, "max_length": max_length, "long_inputs": long_inputs}
    options |= {"token_budget": token_budget, "segment_length": segment_length, "late_chunking": late_chunking}
    encoder, options = _checked_encoder(model, device, dtype, options | {"late_chunk_length": late_chunk_length})
    records = run_suite(
        encoder, config, root, ratio_list, output, model_name=name, options=options, multi_vector=multi_vector
    )
    table = report.results_table(records)
    (output / "table.md").write_text(table, encoding="utf-8")
    report.plot_quality(records, output / "quality_vs_ratio.png", f"{name}: quality vs compression ratio")
    if latency and config.long_documents:
        _latency(encoder, root / config.long_documents, ratio_list, output, name)
    typer.echo(table)
    typer.echo(f"results, table and plots in {output}/")
    if failed := failed_tasks(records):
        typer.echo(f"error: {TaskFailures(failed)}", err=True)
        if not allow_errors:
            raise typer.Exit(1)


def _suite(suite: str, overrides: list[str], prompts: bool, tasks: str | None = None):
    """The suite (cut to ``tasks``, comma-separated names) and its data root, with or without its per-task
    prompts; a bad suite or an unknown task ends the command."""
    from ..configs import ConfigError
    from ..evaluation.tasks import load_suite, select_tasks
    from ..resources import find_suite

    try:
        config, root = load_suite(find_suite(suite), overrides)
        names = [name.strip() for name in tasks.split(",")] if tasks else None
        return select_tasks(config, names, prompts=prompts), root
    except (ConfigError, FileNotFoundError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _checked_encoder(model: str, device: str | None, dtype: str | None, options: dict):
    """The encoder and the encode options, checked against it: a bad value is a usage error naming it."""
    from ..encode import EncodeOptions, load

    try:
        checked = EncodeOptions(**options)
        encoder = load(model, device=device, dtype=dtype)
        encoder.check(checked)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return encoder, checked


def _latency(encoder, documents_file: Path, ratios: list[float], output: Path, name: str) -> None:
    """ms per document against input length at each ratio: ``latency.json`` and its plot."""
    from ..evaluation import report

    try:
        documents = report.long_documents(documents_file, 16)
    except OSError as error:
        typer.echo(f"error: the suite's long_documents: {error}", err=True)
        raise typer.Exit(1) from None
    rows = report.measure_latency(encoder, documents, [128, 256, 512, 1024, 2048], ratios)
    (output / "latency.json").write_text(json.dumps(rows, indent=1))
    report.plot_latency(rows, output / "latency_vs_length.png", f"{name}: encode latency, {os.cpu_count()}-core CPU")


@app.command("eval-compare", rich_help_panel="Evaluation")
def eval_compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders written by `jasper-tc eval`.")],
    output: Annotated[Path, typer.Option(help="Folder for comparison.md and comparison.png.")] = Path("eval-compare"),
) -> None:
    """Put several eval runs (models, stages, ratios) side by side: a table and a plot."""
    from ..evaluation.report import compare_runs
    from ..evaluation.suite import load_records

    try:
        summaries = [load_records(run) for run in runs]
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(compare_runs(summaries, output))
    typer.echo(f"table and plot in {output}/")


@app.command("mteb", rich_help_panel="Evaluation")
def run_mteb(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    benchmark: Annotated[str | None, typer.Option(help='An mteb benchmark, e.g. "MTEB(eng, v2)".')] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated mteb task names instead of a benchmark.")] = None,
    compression_ratio: Annotated[float | None, typer.Option(help="In (0, 1]; each ratio is a run of its own.")] = None,
    output_folder: Annotated[Path, typer.Option(help="mteb result cache folder.")] = Path("mteb-results"),
    batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[str | None, typer.Option(help="bf16 (the release's setting), fp32 or fp16.")] = "bf16",
) -> None:
    """Run an mteb benchmark with the release's configuration (needs the hub for the task data)."""
    import mteb
    from mteb.cache import ResultCache

    from ..evaluation.mteb_adapter import JasperMTEBModel

    if (benchmark is None) == (tasks is None):
        raise typer.BadParameter("give exactly one of --benchmark and --tasks")
    selected = mteb.get_benchmark(benchmark).tasks if benchmark else mteb.get_tasks(tasks=tasks.split(","))
    encoder = JasperMTEBModel(
        model, device=device, dtype=dtype, compression_ratio=compression_ratio, batch_size=batch_size
    )
    result = mteb.evaluate(encoder, selected, cache=ResultCache(output_folder))
    for task_result in result.task_results:
        typer.echo(f"{task_result.task_name}\t{task_result.get_score():.4f}")
    typer.echo(f"results in {output_folder}/")
