"""Other points of the quality-speed frontier: what ``jasper-tc adapt --design NAME`` trains instead.

Each design is the shipped recipe with a few overrides, and each is a run of the design study
(``jasper-tc compression-study --design``, docs/compression-frontier.md), which measures its share of the
original's quality at every ratio against its measured speed, so that a user picks a point by its figures.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DESIGNS", "Design", "design_overrides"]

AFTER = "fixed.start.compress_after_layer"
ENDS = "fixed.start.compress_keep_ends=1"
WIDE_ENDS = "fixed.start.compress_keep_ends=39"  # the most a threshold of 80 allows: 2 x 39 < 80
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


DESIGNS = {
    d.name: d
    for d in (
        Design("base", "the recipe as it is: the pool on the input, a residual jasper_mlp"),
        Design("after-1-no-mlp", "the pool after layer 1, ends kept, no MLP", (ENDS, f"{AFTER}=1", *NO_MLP)),
        Design("token", "ends kept, + the token-level term (weight 10)", (ENDS, TOKEN)),
        Design("ends", "[CLS] and [SEP] kept out of the pool", (ENDS,)),
        Design(
            "after-1-token", "after layer 1, ends kept, no MLP, + the token term", (ENDS, f"{AFTER}=1", *NO_MLP, TOKEN)
        ),
        Design("ends-no-mlp", "the pool on the input, ends kept, no MLP (the backbone learns)", (ENDS, *NO_MLP)),
        Design("scored", "ends kept, a scored pool (per-token weights, zero at start)", (ENDS, *SCORED)),
        Design(
            "after-1-token-x3",
            "after-1-token at three times the steps (300 + 900)",
            (ENDS, f"{AFTER}=1", *NO_MLP, TOKEN, *X3),
        ),
        Design("token-x3", "token at three times the steps (300 + 900)", (ENDS, TOKEN, *X3)),
        Design(
            "ends-no-mlp-token",
            "the pool on the input, ends kept, no MLP (the backbone learns), + the token term",
            (ENDS, *NO_MLP, TOKEN),
        ),
        Design(
            "ends-no-mlp-token-x3",
            "ends-no-mlp-token at three times the steps (300 + 900)",
            (ENDS, *NO_MLP, TOKEN, *X3),
        ),
        Design(
            "wide-ends-no-mlp-token",
            "39 tokens at each end keep a place of their own (the same budget; the middle pooled coarser), no MLP, "
            "+ the token term",
            (WIDE_ENDS, *NO_MLP, TOKEN),
        ),
    )
}


def design_overrides(name: str) -> tuple[str, ...]:
    """The recipe overrides of design ``name``, or an error listing the designs."""
    if name not in DESIGNS:
        raise ValueError(f"unknown design {name!r}; one of: {', '.join(DESIGNS)}")
    return DESIGNS[name].overrides
