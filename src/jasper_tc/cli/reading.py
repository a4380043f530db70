"""How ``encode`` and ``eval`` read inputs past the window: one set of command-line options, said once."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["LateChunkLength", "LateChunking", "LongInputs", "SegmentLength", "TokenBudget"]

LongInputs = Annotated[
    str, typer.Option(help="truncate (cut at max_length), fit (compress each to token_budget), chunk or segments.")
]
TokenBudget = Annotated[
    int | None,
    typer.Option(help="fit, segments: positions per input or segment (default the model's length; half per segment)."),
]
SegmentLength = Annotated[int | None, typer.Option(help="segments: tokens per segment (default 2 windows).")]
LateChunking = Annotated[
    bool, typer.Option(help="fit, segments: a vector per stretch of text, pooled from one forward.")
]
LateChunkLength = Annotated[
    int | None, typer.Option(help="With --late-chunking: tokens per stretch (default the model's length).")
]
