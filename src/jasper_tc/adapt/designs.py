"""Other points of the quality-speed frontier: what ``jasper-tc adapt --design NAME`` trains instead.

The shipped recipe is the design ``merge-ends39`` (windows chosen by the text). ``wide-ends-disjoint`` is the
recipe before it (fixed windows of whole tokens), ``wide-ends-no-mlp-token`` the one before that (the release's
overlapping windows); each other design is the earliest recipe (a residual ``jasper_mlp``, the release's pool,
the embedding loss alone: ``EARLIER``) with a few overrides.
Each is a run of the design study (``jasper-tc compression-study --design``, docs/compression-frontier.md),
which measures its share of the original's quality at every ratio against its measured speed, so that a
user picks a point by its figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT", "DESIGNS", "EARLIER", "Design", "design_overrides", "saved_design"]

MEAN = "fixed.start.compress_pool=mean"  # fixed windows, each a mean (merge-ends39's are chosen by the text)
OVERLAPPING = (MEAN, "fixed.start.compress_windows=overlapping")  # the release's windows: neighbours share a token
EARLIER = (  # the recipe before wide-ends-no-mlp-token became the shipped one
    *OVERLAPPING,
    "fixed.start.insert_jasper_mlp=true",
    "fixed.start.mlp_init=residual",
    "fixed.start.compress_keep_ends=0",
    "stages.optimizer.lr_by_pattern={jasper_mlp.*: 1.0e-3}",
    "stages.loss.token=0",
)
AFTER = "fixed.start.compress_after_layer"
ENDS = "fixed.start.compress_keep_ends=1"
NO_MLP = ("fixed.start.insert_jasper_mlp=false", "stages.optimizer.lr_by_pattern=null")
SCORED = (
    "fixed.start.compress_pool=scored",
    "stages.optimizer.lr_by_pattern={jasper_mlp.*: 1.0e-3, token_scorer.*: 1.0e-3}",
)
TOKEN = "stages.loss.token=10"
X3 = ("fixed.steps=300", "dynamic.steps=900")  # three times the shipped recipe's steps


@dataclass(frozen=True)
class Design:
    name: str
    change: str  # what differs from the shipped recipe, in words
    overrides: tuple[str, ...] = ()


def _earlier(name: str, change: str, *overrides: str) -> Design:
    """A design measured when the earlier recipe was the shipped one: that recipe, then its own change."""
    return Design(name, change, (*EARLIER, *overrides))


DEFAULT = "merge-ends39"
DESIGNS = {
    d.name: d
    for d in (
        Design(
            DEFAULT,
            "the shipped recipe: windows chosen by the text (in each pass every other token may join its more "
            "alike neighbour, the most alike first), 39 tokens at each end kept whole, no MLP, + the token term",
        ),
        Design(
            "merge-ends1",
            "merge-ends39 with only [CLS] and [SEP] kept whole (the text chooses every other window)",
            ("fixed.start.compress_keep_ends=1",),
        ),
        Design(
            "wide-ends-disjoint",
            "the recipe before: fixed windows of whole tokens (each token in one window), 39 tokens at each end "
            "kept whole (the same budget; the middle pooled coarser)",
            (MEAN, "fixed.start.compress_windows=disjoint"),
        ),
        Design(
            "wide-ends-no-mlp-token",
            "wide-ends-disjoint with the release's windows (neighbours share a token)",
            OVERLAPPING,
        ),
        Design("wide-ends-no-mlp-token-x3", "wide-ends-no-mlp-token at three times the steps (300 + 900)",
               (*OVERLAPPING, *X3)),
        _earlier("base", "the earlier recipe: the pool on the input, a residual jasper_mlp"),
        _earlier("after-1-no-mlp", "the pool after layer 1, ends kept, no MLP", ENDS, f"{AFTER}=1", *NO_MLP),
        _earlier("token", "ends kept, + the token-level term (weight 10)", ENDS, TOKEN),
        _earlier("ends", "[CLS] and [SEP] kept out of the pool", ENDS),
        _earlier(
            "after-1-token", "after layer 1, ends kept, no MLP, + the token term", ENDS, f"{AFTER}=1", *NO_MLP, TOKEN
        ),
        _earlier("ends-no-mlp", "the pool on the input, ends kept, no MLP (the backbone learns)", ENDS, *NO_MLP),
        _earlier("scored", "ends kept, a scored pool (per-token weights, zero at start)", ENDS, *SCORED),
        _earlier(
            "after-1-token-x3",
            "after-1-token at three times the steps (300 + 900)",
            ENDS, f"{AFTER}=1", *NO_MLP, TOKEN, *X3,
        ),
        _earlier("token-x3", "token at three times the steps (300 + 900)", ENDS, TOKEN, *X3),
        _earlier(
            "ends-no-mlp-token",
            "the pool on the input, ends kept, no MLP (the backbone learns), + the token term",
            ENDS, *NO_MLP, TOKEN,
        ),
        _earlier("ends-no-mlp-token-x3", "ends-no-mlp-token at three times the steps (300 + 900)",
                 ENDS, *NO_MLP, TOKEN, *X3),
    )
}  # fmt: skip


def design_overrides(name: str) -> tuple[str, ...]:
    """The recipe overrides of design ``name``, or an error listing the designs."""
    if name not in DESIGNS:
        raise ValueError(f"unknown design {name!r}; one of: {', '.join(DESIGNS)}")
    return DESIGNS[name].overrides


def saved_design(model: Path) -> dict:
    """Where and how a trained model pools, and whether a ``jasper_mlp`` is in front of it (its saved config)."""
    config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    keys = ("compress_after_layer", "compress_keep_ends", "compress_positions", "compress_pool", "compress_windows")
    keys += ("use_jasper_mlp",)
    return {key: config.get(key) for key in keys}
