"""The ratios, tasks and scales the recipes share, defined once.

Imports nothing: the command line reads its defaults from here without loading a model library.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ADAPT_TASKS",
    "CHINESE_TASKS",
    "HELD_OUT_TASK",
    "LONG_TASKS",
    "RATIOS",
    "SCALES",
    "SHORT_TASK",
    "SMOKE_RATIOS",
    "STUDY_RATIOS",
    "Scale",
    "check_scale",
    "ratios_text",
]

RATIOS = (1.0, 0.5, 0.33, 0.2, 0.1)  # what every recipe measures a model at
STUDY_RATIOS = (1.0, 0.8, 0.5, 0.33, 0.2, 0.1)  # the claims study adds 0.8 (the dynamic-ratio claim)
SMOKE_RATIOS = (1.0, 0.33)  # a smoke run: compressed or not

# English retrieval over documents longer than the 80-token threshold, so the ratio acts on them; one is
# held out from every training corpus of the project (its articles are read by no training stage).
LONG_TASKS = ("XQuAD-en", "Wiki-title2article-en")
HELD_OUT_TASK = "Wiki-title2article-en"
SHORT_TASK = "STSB-en"  # short texts only: what the MLP does to queries, which are never pooled
ADAPT_TASKS = (*LONG_TASKS, SHORT_TASK)
# Reported apart: an English vocabulary splits Chinese into single characters, which pooling then averages.
CHINESE_TASKS = ("XQuAD-zh", "XQuAD-zh2en", "CSL-title2abstract")

Scale = Literal["full", "smoke"]  # full: the documented run; smoke: every phase at toy size
SCALES: tuple[str, ...] = get_args(Scale)


def check_scale(scale: str) -> Scale:
    """``scale`` if it is one of :data:`SCALES`, else an error naming the valid ones."""
    if scale not in SCALES:
        raise ValueError(f"--scale must be {' or '.join(repr(s) for s in SCALES)}, got {scale!r}")
    return scale  # type: ignore[return-value]


def ratios_text(ratios: tuple[float, ...] = RATIOS) -> str:
    """``"1,0.5,0.33,0.2,0.1"``: ratios as a command-line option spells them."""
    return ",".join(f"{r:g}" for r in ratios)
