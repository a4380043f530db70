"""What a study concludes, as data: scores by task and ratio, their means, and verdicts that carry the
figures they rest on. Studies compute these and write them to their ``results.json``; pages only render
them, and tests assert on them rather than on wording.

Imports nothing else from the package.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Scores", "Verdict", "mean_over", "ratio_key", "scores_by_task", "share"]

Scores = dict[str, dict[str, float | None]]  # task -> ratio (as ``ratio_key`` spells it) -> main score in [0, 1]


def ratio_key(ratio: float) -> str:
    """A ratio as a JSON key: ``0.33`` -> ``"0.33"``, ``1.0`` -> ``"1"``."""
    return f"{ratio:g}"


def scores_by_task(records: list[dict]) -> Scores:
    """``{task: {ratio: main score, or None for a failed task}}`` of an evaluation's records."""
    scores: Scores = {}
    for record in records:
        scores.setdefault(record["task_name"], {})[ratio_key(record["compression_ratio"])] = record.get("main_score")
    return scores


def mean_over(scores: Scores, ratio: float, tasks: tuple[str, ...] | list[str]) -> float:
    """Mean main score x 100 of ``tasks`` at ``ratio``; NaN when any of them is missing or failed."""
    values = [scores.get(task, {}).get(ratio_key(ratio)) for task in tasks]
    if not values or any(v is None for v in values):
        return math.nan
    return 100 * sum(values) / len(values)


def share(scores: Scores, reference: Scores, ratio: float, tasks: tuple[str, ...] | list[str]) -> float:
    """Mean over ``tasks`` of ``scores`` at ``ratio`` as a share of ``reference`` at ratio 1, in %."""
    present = [t for t in tasks if t in scores and t in reference]
    values = [scores[t].get(ratio_key(ratio)) for t in present]
    bases = [reference[t].get(ratio_key(1.0)) for t in present]
    if not present or any(v is None for v in values) or any(not b for b in bases):
        return math.nan
    return 100 * sum(v / b for v, b in zip(values, bases)) / len(present)


@dataclass(frozen=True)
class Verdict:
    """Whether a claim or target holds, and the figures it was judged on (points, %, seconds, ...)."""

    claim: str  # a short stable name, e.g. "stage2-recovers"
    holds: bool | None  # None: the results lack what it needs
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, record: dict[str, Any]) -> Verdict:
        return cls(record["claim"], record["holds"], dict(record.get("figures", {})))
