"""The report's claims judged on the reproduction's results: one :class:`~jasper_tc.results.Verdict` per
claim (and per ratio where the claim names one), each with the figures it rests on. The page
(:mod:`jasper_tc.pages.reproduction`) only says them.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from ..recipes import CHINESE_TASKS, HELD_OUT_TASK, LONG_TASKS
from ..results import Verdict, mean_over
from .design import stage3_run

__all__ = ["TARGET_KEEP", "judge", "judged_tasks", "with_verdicts"]

TARGET_KEEP = 0.97  # the final student at 0.33 keeps 97% of its own ratio-1.0 score
# The stages in the order each starts from the one before (stage 1 from the original).
CHAIN = ("teacher", "stage1", "stage2", "stage3", "stage4")


def judged_tasks(results: dict) -> dict[str, list]:
    """The tasks the verdicts are judged on (the English long-text tasks the results hold), the Chinese
    tasks reported apart, the ratios and the stage-3 seeds."""
    teacher = results["scores"]["teacher"]
    tasks = [t for t in LONG_TASKS if t in teacher]
    seeds = list(results["study"]["seeds"])
    return {
        "tasks": tasks,
        "chinese": [t for t in CHINESE_TASKS if t in teacher and t not in tasks],
        "ratios": list(results["study"]["plan"]["ratios"]),
        "seeds": seeds,
        "stage3_runs": {variant: [stage3_run(variant, s) for s in seeds] for variant in ("dynamic", "fixed")},
    }


class _Curves:
    """Mean long-task score per ratio of every run, the numbers the claims are judged on."""

    def __init__(self, results: dict) -> None:
        judged = judged_tasks(results)
        self.tasks, self.ratios, self.seeds = judged["tasks"], judged["ratios"], judged["seeds"]
        self.scores = results["scores"]

    def at(self, run: str, ratio: float, tasks: list[str] | None = None) -> float:
        return mean_over(self.scores[run], ratio, tasks or self.tasks)

    def curve(self, run: str) -> list[float]:
        return [self.at(run, r) for r in self.ratios]

    def variant(self, variant: str) -> np.ndarray:
        return np.array([self.curve(stage3_run(variant, seed)) for seed in self.seeds])


def _stage2(c: _Curves) -> Verdict:
    full, free, trained = c.at("stage1", 1.0), c.at("stage1", 0.33), c.at("stage2", 0.33)
    lost = full - free
    figures = {"full": full, "free": free, "trained": trained, "start": c.at("stage2-start", 0.33), "lost": lost}
    figures["recovered_pct"] = 100 * (trained - free) / lost if lost > 0 else math.nan
    figures["beats_uncompressed"] = trained >= full
    return Verdict("stage2-recovers", trained > free, figures)


def _dynamic(c: _Curves) -> list[Verdict]:
    dynamic, fixed = c.variant("dynamic"), c.variant("fixed")
    spread = {
        name: float(np.mean([np.nanmax(curve) - np.nanmin(curve) for curve in curves]))
        for name, curves in (("dynamic", dynamic), ("fixed", fixed))
    }
    figures = {"spread_dynamic": spread["dynamic"], "spread_fixed": spread["fixed"], "seed_apart": None}
    if len(c.seeds) > 1:  # how far two seeds of the same variant land apart, per ratio on average
        figures["seed_apart"] = float(np.mean([np.ptp(curves, axis=0).mean() for curves in (dynamic, fixed)]))
    verdicts = [Verdict("dynamic-flatter", spread["dynamic"] < spread["fixed"], figures)]
    for ratio in (0.1, 0.8):
        if ratio in c.ratios:
            i = c.ratios.index(ratio)
            wins = int(np.sum(dynamic[:, i] > fixed[:, i]))
            at = {"ratio": ratio, "dynamic": float(dynamic[:, i].mean()), "fixed": float(fixed[:, i].mean())}
            verdicts.append(Verdict(f"dynamic-ahead-at-{ratio:g}", wins == len(c.seeds), at | {"wins": wins}))
    return verdicts


def _stage4(c: _Curves) -> Verdict:
    ahead = sum(b > a for a, b in zip(c.curve("stage3"), c.curve("stage4")))
    return Verdict("stage4-better", ahead == len(c.ratios), {"ahead": ahead, "ratios": len(c.ratios)})


def _student(c: _Curves) -> Verdict:
    keep = c.at("stage4", 0.33) / c.at("stage4", 1.0)
    per_task = {task: 100 * c.at("stage4", 0.33, [task]) / c.at("stage4", 1.0, [task]) for task in c.tasks}
    figures = {"keep_pct": 100 * keep, "target_pct": 100 * TARGET_KEEP, "per_task_pct": per_task}
    return Verdict("student-keeps-at-0.33", keep >= TARGET_KEEP, figures)


def _held_out(c: _Curves) -> Verdict:
    """No stage scores below the model it started from, on the task no training corpus reads."""
    if HELD_OUT_TASK not in c.tasks:
        return Verdict("no-stage-below-its-start", None, {"task": HELD_OUT_TASK})
    below = [
        {
            "stage": after,
            "ratio": ratio,
            "change": c.at(after, ratio, [HELD_OUT_TASK]) - c.at(before, ratio, [HELD_OUT_TASK]),
        }
        for before, after in pairwise(CHAIN)
        for ratio in c.ratios
        if c.at(after, ratio, [HELD_OUT_TASK]) < c.at(before, ratio, [HELD_OUT_TASK])
    ]
    return Verdict("no-stage-below-its-start", not below, {"task": HELD_OUT_TASK, "below": below})


def judge(results: dict) -> list[Verdict]:
    """Every claim's verdict, in the page's order."""
    curves = _Curves(results)
    return [_stage2(curves), *_dynamic(curves), _stage4(curves), _student(curves), _held_out(curves)]


def with_verdicts(results: dict) -> dict:
    """``results`` with what was judged and every verdict (an older results file gets them now)."""
    return results | {"judged": judged_tasks(results), "verdicts": [v.to_dict() for v in judge(results)]}
