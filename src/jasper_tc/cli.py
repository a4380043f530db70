"""The command line: ``jasper-tc <verb>``."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Token-compressed text embedding.")


@contextmanager
def _phase_failures():
    """A failed phase of a study ends the command with exit 1 and one message naming the phase and cause."""
    from .lifecycle import PhaseFailed

    try:
        yield
    except PhaseFailed as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@app.command()
def quickstart(
    output: Annotated[Path, typer.Option(help="Folder for everything the run writes.")] = Path("quickstart-output"),
    scale: Annotated[
        str,
        typer.Option(help="'default' (about 10 minutes on 2 cores) or 'smoke' (a quick check of every phase)."),
    ] = "default",
) -> None:
    """The whole recipe on one CPU: teacher store, stages 1-4, evaluation; a table, plots and a report.

    Teacher all-MiniLM-L6-v2, student its first 3 layers + the compressor, data the shipped bilingual
    sample. Started again after an interruption, it goes on where it stopped.
    """
    from .lifecycle import SMOKE_SIZES, Plan, run_lifecycle

    if scale not in ("default", "smoke"):
        raise typer.BadParameter(f"--scale must be 'default' or 'smoke', got {scale!r}")
    sizes = SMOKE_SIZES if scale == "smoke" else {}
    started = time.perf_counter()
    with _phase_failures():
        summary = run_lifecycle(Plan(output=output, **sizes), say=lambda text: typer.echo(text, err=True))
    typer.echo(summary["table"])
    typer.echo(f"\nstudent: {summary['model']}")
    typer.echo(f"report: {output / 'report.md'} (plot: {output / 'report' / 'comparison.png'})")
    typer.echo(f"done in {time.perf_counter() - started:.0f} s")


@app.command()
def reproduce(
    output: Annotated[Path, typer.Option(help="Folder for every run of the study.")] = Path("runs/reproduction"),
    document: Annotated[Path, typer.Option(help="The Markdown page to write (plots go beside it).")] = Path(
        "docs/reproduction.md"
    ),
    scale: Annotated[str, typer.Option(help="'full' (about 90 minutes on 2 cores) or 'smoke' (a toy check).")] = "full",
    document_only: Annotated[
        bool, typer.Option(help="Rewrite the page from OUTPUT/results.json without running anything.")
    ] = False,
) -> None:
    """Test the report's claims at CPU scale (stage 2, dynamic ratios, stage 4, student vs teacher).

    Runs the quickstart's life cycle larger, plus a fixed-ratio stage 3 per seed and the speed of
    teacher and student; writes DOCUMENT with tables and plots. Started again, it resumes.
    """
    from .reproduction import full_study, reproduce, smoke_study, write_document

    if scale not in ("full", "smoke"):
        raise typer.BadParameter(f"--scale must be 'full' or 'smoke', got {scale!r}")
    if document_only:
        results_file = output / "results.json"
        if not results_file.is_file():
            raise typer.BadParameter(f"{results_file} does not exist: run the study first (without --document-only)")
        write_document(json.loads(results_file.read_text(encoding="utf-8")), document)
    else:
        study = (full_study if scale == "full" else smoke_study)(output)
        with _phase_failures():
            reproduce(study, document, say=lambda text: typer.echo(text, err=True))
    typer.echo(f"wrote {document}")


@app.command()
def encode(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    input: Annotated[Path, typer.Option("--input", help="Texts: .txt (one a line), .jsonl or .parquet (.gz ok).")],
    output: Annotated[Path, typer.Option(help="Embeddings: .npy (input order) or .parquet (id + embedding).")],
    field: Annotated[str, typer.Option(help="Text field of .jsonl/.parquet records.")] = "text",
    id_field: Annotated[str | None, typer.Option(help="Id field kept in .parquet output; default line number.")] = None,
    prompt_name: Annotated[str | None, typer.Option(help="A prompt of the model, e.g. query.")] = None,
    compression_ratio: Annotated[float | None, typer.Option(help="In (0, 1]; default the model's.")] = None,
    batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 32,
    max_tokens_per_batch: Annotated[int | None, typer.Option(help="Padded tokens per forward.")] = None,
    max_length: Annotated[int | None, typer.Option(help="Tokens per input; longer ones are cut.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, ...")] = None,
    dtype: Annotated[str | None, typer.Option(help="fp32, bf16 or fp16.")] = None,
) -> None:
    """Embed a file of texts into a .npy or .parquet file, streamed, with a progress bar."""
    from .encode import load
    from .encode.files import check_files, encode_file

    started = time.perf_counter()
    try:
        check_files(input, output, field, id_field)
        encoder = load(model, device=device, dtype=dtype)
        rows = encode_file(
            encoder,
            input,
            output,
            text_field=field,
            id_field=id_field,
            prompt_name=prompt_name,
            compression_ratio=compression_ratio,
            batch_size=batch_size,
            max_tokens_per_batch=max_tokens_per_batch,
            max_length=max_length,
        )
    except (ValueError, TypeError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    typer.echo(f"{rows} embeddings of dimension {encoder.dimension} -> {output} in {elapsed:.1f}s")


@app.command()
def teach(
    config: Annotated[Path, typer.Argument(help="Teach config (YAML); see configs/teachers/.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. shard_rows=1024")] = None,
) -> None:
    """Run teachers over a corpus into resumable, sharded stores, then fuse them (rank 0).

    Many processes: `accelerate launch -m jasper_tc teach CONFIG` (or torchrun); each takes its shards.
    """
    from .configs import ConfigError
    from .corpus import CorpusError
    from .store import StoreError
    from .teachers import load_teach_config
    from .teachers import teach as run_teach

    try:
        folders = run_teach(load_teach_config(config, overrides or []))
    except (ConfigError, CorpusError, StoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for name, folder in folders.items():
        typer.echo(f"{name}: {folder}")


@app.command()
def train(
    config: Annotated[
        Path, typer.Argument(help="Stage config (YAML); see configs/jasper-600m/ and configs/minilm-cpu/.")
    ],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. steps=10 batch_size=2")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output folder.")] = False,
    check: Annotated[bool, typer.Option(help="Only validate the config (no model, no data) and print it.")] = False,
) -> None:
    """Train one stage: distill a student towards a teacher store (stages 1-3) or on triples (stage 4).

    Many GPUs or nodes: `accelerate launch [--num_processes N ...] -m jasper_tc train CONFIG`.
    Ctrl-C saves a checkpoint after the current step; `--resume` continues from it.
    """
    import yaml

    from .configs import ConfigError
    from .corpus import CorpusError
    from .store import StoreError
    from .training import load_train_config
    from .training import train as run_train

    try:
        stage = load_train_config(config, overrides or [])
        if check:
            typer.echo(yaml.safe_dump(stage.to_dict(), sort_keys=False), nl=False)
            return
        result = run_train(stage, resume=resume, source=str(config))
    except (ConfigError, CorpusError, StoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if result.stopped:
        typer.echo(
            f"stopped at step {result.step}/{result.total_steps}; continue with: jasper-tc train {config} --resume"
        )
        raise typer.Exit(130)
    typer.echo(f"model: {result.model}")


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the server to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    api_key: Annotated[
        str | None, typer.Option(envvar="JASPER_TC_API_KEY", help="Require 'Authorization: Bearer KEY' (not /health).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model id the API reports; default the folder's name.")] = None,
    max_batch_tokens: Annotated[int, typer.Option(help="Padded tokens (after compression) per forward.")] = 16384,
    max_batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="How long a batch waits for more inputs.")] = 5.0,
    forward_batch_size: Annotated[
        int | None, typer.Option(help="Inputs per length-sorted forward within a batch; default 4 on CPU, 32 on GPU.")
    ] = None,
    max_inputs: Annotated[int, typer.Option(help="Inputs per request.")] = 512,
    max_payload_bytes: Annotated[int, typer.Option(help="Request body size.")] = 8 * 1024 * 1024,
    max_input_tokens: Annotated[int | None, typer.Option(help="Tokens per input; default the model's limit.")] = None,
    truncate: Annotated[
        bool, typer.Option(help="Default for requests that do not say: cut long inputs or refuse.")
    ] = False,
    max_concurrent_requests: Annotated[int, typer.Option(help="Beyond this, 429 with Retry-After.")] = 256,
    max_queue_tokens: Annotated[int, typer.Option(help="Queued tokens beyond which requests get 429.")] = 1_000_000,
    overload_compression: Annotated[
        bool, typer.Option(help="Under overload, compress queued work harder before rejecting any.")
    ] = False,
    overload_tokens: Annotated[int, typer.Option(help="Queued tokens that count as overload.")] = 65536,
    overload_ratio: Annotated[float, typer.Option(help="The ratio queued work runs at under overload.")] = 0.33,
    compression_ratio: Annotated[float | None, typer.Option(help="Default ratio; default the model's.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[str | None, typer.Option(help="fp32, bf16 or fp16.")] = None,
) -> None:
    """Serve embeddings over HTTP: OpenAI /v1/embeddings, TEI /embed and /tokenize, /health, /ready, /metrics."""
    from .serving import ServeConfig
    from .serving import serve as run_server

    try:
        config = ServeConfig(
            model=model, name=name, host=host, port=port, api_key=api_key, device=device, dtype=dtype,
            max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
            forward_batch_size=forward_batch_size,
            max_inputs=max_inputs, max_payload_bytes=max_payload_bytes, max_input_tokens=max_input_tokens,
            truncate=truncate, max_concurrent_requests=max_concurrent_requests, max_queue_tokens=max_queue_tokens,
            overload_compression=overload_compression, overload_tokens=overload_tokens,
            overload_ratio=overload_ratio, default_ratio=compression_ratio,
        )  # fmt: skip
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    run_server(config)


@app.command("mine-negatives")
def mine_negatives_command(
    model: Annotated[str, typer.Option(help="Teacher model folder or hub name.")],
    pairs: Annotated[Path, typer.Option(help='JSONL of {"query", "positive"} pairs.')],
    output: Annotated[Path, typer.Option(help="Triples JSONL to write.")],
    corpus: Annotated[Path | None, typer.Option(help="Extra candidate documents (.txt/.jsonl/.parquet).")] = None,
    field: Annotated[str, typer.Option(help="Text field of the corpus.")] = "text",
    k: Annotated[int, typer.Option(help="Negatives per pair.")] = 3,
    rank_window: Annotated[str, typer.Option(help="LOW:HIGH ranks to take negatives from.")] = "0:100",
    margin: Annotated[float, typer.Option(help="Drop candidates within this cosine of the positive (<0: off).")] = 0.05,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[str | None, typer.Option(help="fp32, bf16 or fp16.")] = None,
) -> None:
    """Mine hard negatives with a teacher: stage-4 triples from query/positive pairs."""
    from .encode import load
    from .teachers.negatives import mine_negatives

    try:
        low, high = (int(x) for x in rank_window.split(":"))
    except ValueError:
        raise typer.BadParameter(f"--rank-window must be LOW:HIGH, got {rank_window!r}") from None
    try:
        stats = mine_negatives(
            load(model, device=device, dtype=dtype),
            pairs,
            corpus,
            output,
            k=k,
            rank_window=(low, high),
            margin=None if margin < 0 else margin,
            text_field=field,
        )
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{stats.pairs} triples from {stats.candidates} candidates -> {output} "
        f"({stats.short} with fewer than {k} negatives)"
    )


def _ratios(text: str) -> list[float]:
    from .model import check_ratio

    try:
        return [check_ratio(float(x), "--ratios") for x in text.split(",")]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@app.command("eval")
def evaluate(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    suite: Annotated[
        str, typer.Option(help="A shipped suite by name (local-bilingual) or a suite YAML file of your own.")
    ],
    ratios: Annotated[str, typer.Option(help="Comma-separated compression ratios.")] = "1,0.5,0.33,0.2,0.1",
    output: Annotated[Path | None, typer.Option(help="Run folder; default eval-runs/<model name>.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name in results; default the folder's name.")] = None,
    prompts: Annotated[
        bool, typer.Option(help="Use the suite's per-task prompts (off for models without them).")
    ] = True,
    latency: Annotated[bool, typer.Option(help="Also measure latency vs input length on long documents.")] = True,
    batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 32,
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
    import dataclasses

    from .configs import ConfigError
    from .encode import load
    from .evaluation import report
    from .evaluation.suite import TaskFailures, failed_tasks, run_suite
    from .evaluation.tasks import load_suite
    from .resources import find_suite

    ratio_list = _ratios(ratios)
    try:
        config, root = load_suite(find_suite(suite), overrides or [])
    except (ConfigError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if not prompts:
        tasks = [dataclasses.replace(t, prompt=None, document_prompt=None) for t in config.tasks]
        config = dataclasses.replace(config, tasks=tasks)
    name = name or Path(model).name or model
    output = output or Path("eval-runs") / name
    encoder = load(model, device=device, dtype=dtype)
    records = run_suite(encoder, config, root, ratio_list, output, model_name=name, batch_size=batch_size)
    table = report.results_table(records)
    (output / "table.md").write_text(table, encoding="utf-8")
    report.plot_quality(records, output / "quality_vs_ratio.png", f"{name}: quality vs compression ratio")
    if latency and config.long_documents:
        try:
            documents = report.long_documents(root / config.long_documents, 16)
        except OSError as error:
            typer.echo(f"error: the suite's long_documents: {error}", err=True)
            raise typer.Exit(1) from None
        rows = report.measure_latency(encoder, documents, [128, 256, 512, 1024, 2048], ratio_list)
        (output / "latency.json").write_text(json.dumps(rows, indent=1))
        report.plot_latency(rows, output / "latency_vs_length.png", f"{name}: encode latency, 2-core CPU")
    typer.echo(table)
    typer.echo(f"results, table and plots in {output}/")
    if failed := failed_tasks(records):
        typer.echo(f"error: {TaskFailures(failed)}", err=True)
        if not allow_errors:
            raise typer.Exit(1)


@app.command("eval-compare")
def eval_compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders written by `jasper-tc eval`.")],
    output: Annotated[Path, typer.Option(help="Folder for comparison.md and comparison.png.")] = Path("eval-compare"),
) -> None:
    """Put several eval runs (models, stages, ratios) side by side: a table and a plot."""
    from .evaluation.report import compare_runs
    from .evaluation.suite import load_records

    try:
        summaries = [load_records(run) for run in runs]
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(compare_runs(summaries, output))
    typer.echo(f"table and plot in {output}/")


@app.command("mteb")
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

    from .evaluation.mteb_adapter import JasperMTEBModel

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


@app.command()
def version() -> None:
    """Print the package version."""
    from . import __version__

    typer.echo(__version__)


def main() -> None:
    app()
