"""Timing a design by its shape: where and how it pools, and whether a ``jasper_mlp`` runs over every token.

The work a forward does depends on the shape alone, never on the trained weights, so every run of the design
study is timed as its shape (the source model built into that architecture at its starting weights), all in
the same alternating rounds as the original. Runs of one shape then share one timing: a speed difference
between them is never the machine's noise read as a design's, and runs added in a later sitting are timed
again with the rest instead of against an original timed on another day.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..atomic import atomic_write_json

__all__ = ["SHAPE_KEYS", "TIMED_DOCUMENTS", "shape_name", "time_shapes"]

SHAPE_KEYS = ("compress_after_layer", "compress_keep_ends", "compress_positions", "compress_pool", "use_jasper_mlp")
# What a cell of the speed record times (kept in the record, so that a change of method times again).
TIMED_DOCUMENTS = "Wiki articles cut to the length before timing (tokenizer included)"


def shape_name(design: dict) -> str:
    """A short name for a shape, e.g. ``input-ends39-mlp`` or ``after-1-ends1``."""
    after, ends = design.get("compress_after_layer") or 0, design.get("compress_keep_ends") or 0
    name = "input" if after == 0 else f"after-{after}"
    name += f"-ends{ends}" if ends else ""
    name += "-keep-positions" if design.get("compress_positions") == "keep" else ""
    name += f"-{design['compress_pool']}" if design.get("compress_pool", "mean") != "mean" else ""
    return name + ("-mlp" if design.get("use_jasper_mlp") else "")


def _shaped(source, design: dict, max_length: int):
    """An encoder of the source model built into ``design``'s shape, at its starting weights."""
    from ..encode import Encoder
    from ..encode.backends import JasperBackend
    from ..model import build_student, configure_compression

    model, tokenizer = build_student(
        source.path, source.hidden_size, linear_init="identity",
        with_jasper_mlp=bool(design.get("use_jasper_mlp")), mlp_init="residual",
    )  # fmt: skip
    configure_compression(
        model, after_layer=design.get("compress_after_layer"), keep_ends=design.get("compress_keep_ends"),
        positions=design.get("compress_positions"), pool=design.get("compress_pool"),
    )  # fmt: skip
    encoder = Encoder(JasperBackend(model.eval(), tokenizer))
    encoder.backend.max_length = max_length  # past the default cut of 256, within the positions
    return encoder


def time_shapes(
    source,
    designs: dict[str, dict],
    kept: Path,
    lengths: list[int],
    ratios: list[float],
    *,
    documents: int,
    rounds: int,
) -> dict[str, list[dict]]:
    """ms per document of the original (as sentence-transformers loads it) and of every shape in ``designs``
    (name -> design), at each length and ratio, in alternating rounds (the median kept); kept in ``kept``
    while it times the same shapes, lengths, ratios, documents and rounds."""
    from ..encode import load
    from ..evaluation.report import long_documents, timed_rounds
    from ..resources import DATA

    shapes = {shape_name(d): {k: d.get(k) for k in SHAPE_KEYS} for d in designs.values()}
    timed = {"shapes": sorted(shapes), "lengths": lengths, "ratios": ratios, "documents": TIMED_DOCUMENTS}
    timed |= {"documents_timed": documents, "rounds": rounds}
    saved = json.loads(kept.read_text(encoding="utf-8")) if kept.is_file() else {}
    if saved and all(saved.get(key) == value for key, value in timed.items()):
        return saved["rows"]
    texts = long_documents(DATA / "eval" / "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz", documents)
    original = load(str(source.path), device="cpu")
    original.backend.max_length = max(lengths)
    encoders = {"original": original} | {name: _shaped(source, d, max(lengths)) for name, d in shapes.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setups = {name: (lambda e=encoder: e) for name, encoder in encoders.items()}
        rows = timed_rounds(setups, texts, lengths, ratios, rounds=rounds)
    atomic_write_json(kept, timed | {"rows": rows})
    return rows
