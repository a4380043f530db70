"""From texts to vectors and students: ``encode``, ``teach``, ``mine-negatives`` and ``train``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from . import app
from .reading import LateChunking, LateChunkLength, LongInputs, SegmentLength, TokenBudget


@app.command(rich_help_panel="From texts to vectors and students")
def encode(
    model: Annotated[str, typer.Option(help="Model folder or hub name.")],
    input: Annotated[Path, typer.Option("--input", help="Texts: .txt (one a line), .jsonl or .parquet (.gz ok).")],
    output: Annotated[
        Path,
        typer.Option(
            help="A .npy (input order) or .parquet (id + embedding) file; or a folder (no suffix): shards and a "
            "manifest, resumable, split over the processes of an accelerate launch / torchrun."
        ),
    ],
    field: Annotated[str, typer.Option(help="Text field of .jsonl/.parquet records.")] = "text",
    id_field: Annotated[str | None, typer.Option(help="Id field kept in .parquet output; default line number.")] = None,
    prompt_name: Annotated[str | None, typer.Option(help="A prompt of the model, e.g. query.")] = None,
    compression_ratio: Annotated[float | None, typer.Option(help="In (0, 1]; default the model's.")] = None,
    batch_size: Annotated[int, typer.Option(help="Inputs per forward.")] = 32,
    max_tokens_per_batch: Annotated[int | None, typer.Option(help="Padded tokens per forward.")] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Tokens read per input (fit and chunk may pass the window; default 32,768).")
    ] = None,
    long_inputs: LongInputs = "truncate",
    token_budget: TokenBudget = None,
    chunk_overlap: Annotated[int, typer.Option(help="chunk: tokens shared by neighbouring windows.")] = 32,
    segment_length: SegmentLength = None,
    shard_rows: Annotated[int, typer.Option(help="Folder output: texts per shard (the unit of resuming).")] = 10_000,
    shard_format: Annotated[
        str, typer.Option(help="Folder output: parquet (id + embedding) or npy (the project's embedding store).")
    ] = "parquet",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, ...")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="fp32, bf16, fp16, int8 (CPU) or auto (the fastest this machine runs).")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="torch, openvino (CPU; the openvino extra) or auto (every runtime, probed).")
    ] = "torch",
    segments: Annotated[
        bool, typer.Option(help="A .parquet row per window or segment of each text (id, segment, embedding).")
    ] = False,
    late_chunking: LateChunking = False,
    late_chunk_length: LateChunkLength = None,
) -> None:
    """Embed a file of texts into a .npy or .parquet file, or a folder of shards, with a progress bar."""
    from ..encode import EncodeOptions

    started = time.perf_counter()
    try:
        options = EncodeOptions(
            prompt_name=prompt_name, compression_ratio=compression_ratio, batch_size=batch_size,
            max_tokens_per_batch=max_tokens_per_batch, max_length=max_length, long_inputs=long_inputs,
            token_budget=token_budget, chunk_overlap=chunk_overlap, segment_length=segment_length,
            late_chunking=late_chunking, late_chunk_length=late_chunk_length,
        )  # fmt: skip
        runtime = {"dtype": dtype} | ({"backend": backend} if backend != "torch" else {})
        if not output.suffix or output.is_dir():  # a folder: shards and a manifest
            if segments:
                raise ValueError("--segments writes one .parquet file; a folder of shards holds a row per text")
            rows, dimension = _encode_folder(
                model, input, output, field, id_field, shard_rows, shard_format, device, runtime, options
            )
        else:
            rows, dimension = _encode_file(model, input, output, field, id_field, device, runtime, options, segments)
    except (ValueError, TypeError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if rows is not None:
        typer.echo(f"{rows} embeddings of dimension {dimension} -> {output} in {time.perf_counter() - started:.1f}s")


def _load_checked(model: str, device: str | None, runtime: dict, options):
    """The encoder, its precision said, and the options checked against it before any text is read."""
    from ..encode import load

    encoder = load(model, device=device, **runtime)
    if encoder.precision_probe is not None:
        typer.echo(encoder.precision_probe.summary(), err=True)
    encoder.check(options)
    return encoder


def _encode_file(model, input, output, field, id_field, device, runtime, options, segments=False):
    """One process, one output file; (rows, dimension)."""
    from ..encode.files import check_files, encode_file

    check_files(input, output, field, id_field)
    encoder = _load_checked(model, device, runtime, options)
    written = encode_file(encoder, input, output, options, text_field=field, id_field=id_field, segments=segments)
    return written, encoder.dimension


def _encode_folder(model, input, output, field, id_field, shard_rows, shard_format, device, runtime, options):
    """Sharded, resumable, multi-process encoding; (rows, dimension) on rank 0, (None, None) elsewhere."""
    from ..corpus import CorpusConfig
    from ..encode.sharded import ShardedFolder, encode_corpus

    if "auto" in runtime.values():
        raise ValueError(
            "--dtype auto and --backend auto pick per machine, and every shard of a folder must be made the same "
            "way: run `jasper-tc encode` with them on one file to see what they pick, then give that"
        )
    corpus = CorpusConfig(path=str(input), text_field=field, id_field=id_field)
    target = ShardedFolder(
        output, source={"model": model, **runtime, **options.source()}, shard_rows=shard_rows, format=shard_format
    )
    manifest = encode_corpus(
        lambda rank_device: _load_checked(model, rank_device, runtime, options), corpus, target, options, device=device
    )
    return (manifest.rows, manifest.dimension) if manifest is not None else (None, None)


@app.command(rich_help_panel="From texts to vectors and students")
def teach(
    config: Annotated[Path, typer.Argument(help="Teach config (YAML); see configs/teachers/.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. shard_rows=1024")] = None,
    verify: Annotated[
        bool,
        typer.Option(help="Check the teacher stores' checksums before fusion reads them (--no-verify: trust them)."),
    ] = True,
) -> None:
    """Run teachers over a corpus into resumable, sharded stores, then fuse them (rank 0).

    Many processes: `accelerate launch -m jasper_tc teach CONFIG` (or torchrun); each takes its shards.
    """
    from ..configs import ConfigError
    from ..corpus import CorpusError
    from ..store import StoreError
    from ..teachers import load_teach_config
    from ..teachers import teach as run_teach

    try:
        folders = run_teach(load_teach_config(config, overrides or []), verify=verify)
    except (ConfigError, CorpusError, StoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for name, folder in folders.items():
        typer.echo(f"{name}: {folder}")


@app.command(rich_help_panel="From texts to vectors and students")
def train(
    config: Annotated[
        Path, typer.Argument(help="Stage config (YAML); see configs/jasper-600m/ and configs/minilm-cpu/.")
    ],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. steps=10 batch_size=2")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output folder.")] = False,
    check: Annotated[bool, typer.Option(help="Only validate the config (no model, no data) and print it.")] = False,
    verify: Annotated[
        bool, typer.Option(help="Check the teacher store's checksums before training reads it (--no-verify: trust it).")
    ] = True,
) -> None:
    """Train one stage: distill a student towards a teacher store (stages 1-3) or on triples (stage 4).

    Many GPUs or nodes: `accelerate launch [--num_processes N ...] -m jasper_tc train CONFIG`.
    Ctrl-C saves a checkpoint after the current step; `--resume` continues from it.
    """
    import yaml

    from ..configs import ConfigError
    from ..corpus import CorpusError
    from ..store import StoreError
    from ..training import load_train_config
    from ..training import train as run_train

    try:
        stage = load_train_config(config, overrides or [])
        if check:
            typer.echo(yaml.safe_dump(stage.to_dict(), sort_keys=False), nl=False)
            return
        result = run_train(stage, resume=resume, source=str(config), verify_store=verify)
    except (ConfigError, CorpusError, StoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if result.stopped:
        typer.echo(
            f"stopped at step {result.step}/{result.total_steps}; continue with: jasper-tc train {config} --resume"
        )
        raise typer.Exit(130)
    typer.echo(f"model: {result.model}")


@app.command("mine-negatives", rich_help_panel="From texts to vectors and students")
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
    from ..encode import load
    from ..teachers.negatives import mine_negatives

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
