"""The claims study's design, which the runner carries out and the page reads back from ``results.json``.

The long-text tasks the claims are judged on, the study's ratios, the fixed ratio that stage 3's
dynamic schedule is compared with, and the name each stage-3 run has in the output folder and in
``results.json``.
"""

from __future__ import annotations

__all__ = ["CHINESE_TASKS", "FIXED_RATIO", "HELD_OUT_TASK", "LONG_TASKS", "STUDY_RATIOS", "stage3_run"]

# The English long-text retrieval tasks (documents mostly beyond the 80-token threshold, so the ratio acts):
# the claims are judged on them, since the CPU-scale model is English. One of them is held out from every
# training corpus of the project.
LONG_TASKS = ("XQuAD-en", "Wiki-title2article-en")
HELD_OUT_TASK = "Wiki-title2article-en"
# Reported apart: an English vocabulary splits Chinese into single characters, which pooling then averages.
CHINESE_TASKS = ("XQuAD-zh", "XQuAD-zh2en", "CSL-title2abstract")
STUDY_RATIOS = (1.0, 0.8, 0.5, 0.33, 0.2, 0.1)  # the quickstart's ratios (LIFECYCLE_RATIOS) plus 0.8
FIXED_RATIO = 0.33333


def stage3_run(variant: str, seed: int) -> str:
    """The run of a stage-3 variant (``dynamic`` or ``fixed``) and seed; seed-0 dynamic is the quickstart's own."""
    return "stage3" if (variant, seed) == ("dynamic", 0) else f"stage3-{variant}-seed{seed}"
