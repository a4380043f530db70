"""The quickstart: all-MiniLM-L6-v2 made compression-ready by ``adapt``, sized to run in minutes on a CPU.

The most useful result that fits the budget: the user's kind of model (a trained sentence-transformers
model), the shipped English Wikipedia paragraphs as its training texts, and its card, which puts the
adapted model beside the original and beside the original pooled training-free, at every ratio, on
tasks no stage trained on. The report's four-stage life cycle is ``--recipe four-stage``
(:mod:`.lifecycle`).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..adapt import SMOKE, SMOKE_OVERRIDES, AdaptPlan
from ..atomic import atomic_write_text
from ..recipes import RATIOS, Scale
from ..resources import DATA

__all__ = ["QUICKSTART_MODEL", "english_paragraphs", "quickstart_plan"]

QUICKSTART_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SIZES = {  # (paragraphs, stage overrides, eval limit, ratios) per scale
    # adapt's recipe at two thirds of its steps (its token-level term costs a forward per step): 15 minutes
    "full": (2000, ("fixed.steps=70", "dynamic.steps=200"), None, RATIOS),
    "smoke": (SMOKE["max_texts"], SMOKE_OVERRIDES, SMOKE["eval_limit"], SMOKE["ratios"]),
}


def english_paragraphs(count: int, path: Path) -> Path:
    """The first ``count`` English paragraphs of the shipped sample, as the training corpus."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(DATA / "quickstart" / "paragraphs.jsonl.gz", "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        english = [r for r in rows if r["id"].startswith("wikien")][:count]
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in english))
    return path


def quickstart_plan(output: Path, scale: Scale = "full") -> AdaptPlan:
    """``adapt``'s plan for the quickstart at ``scale`` (``full`` or ``smoke``)."""
    paragraphs, overrides, eval_limit, ratios = SIZES[scale]
    corpus = english_paragraphs(paragraphs, output / "data" / "paragraphs.jsonl")
    return AdaptPlan(
        model=QUICKSTART_MODEL,
        corpus=corpus,
        output=output,
        overrides=overrides,
        eval_limit=eval_limit,
        ratios=ratios,
        extra={"scale": scale, "quickstart": True},
    )
