"""The claims study's design, which the runner carries out and the page reads back from ``results.json``:
the fixed ratio that stage 3's dynamic schedule is compared with, and the name each stage-3 run has in the
output folder and in ``results.json``. Its tasks and ratios are the recipes' (:mod:`jasper_tc.recipes.scales`).
"""

from __future__ import annotations

__all__ = ["FIXED_RATIO", "stage3_run"]

FIXED_RATIO = 0.33333


def stage3_run(variant: str, seed: int) -> str:
    """The run of a stage-3 variant (``dynamic`` or ``fixed``) and seed; seed-0 dynamic is the quickstart's own."""
    return "stage3" if (variant, seed) == ("dynamic", 0) else f"stage3-{variant}-seed{seed}"
