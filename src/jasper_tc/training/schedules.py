"""Compression-ratio schedules: which ratio a training step runs at.

The ratio of step ``n`` is drawn from a generator seeded by ``(seed, n)``, so every rank draws the same
ratio at the same step without talking to the others, and a resumed run draws what the
uninterrupted one would have.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..model import check_ratio

__all__ = ["Algorithm2", "Fixed", "NoCompression", "Ranges", "RatioSchedule"]


class RatioSchedule:
    """``ratio(step)`` -> the compression ratio for that step (1.0: none)."""

    def ratio(self, step: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class NoCompression(RatioSchedule):
    def ratio(self, step: int) -> float:
        return 1.0


@dataclass(frozen=True)
class Fixed(RatioSchedule):
    value: float

    def __post_init__(self) -> None:
        check_ratio(self.value, "fixed ratio")

    def ratio(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class Ranges(RatioSchedule):
    """A user-given distribution: ``(probability, low, high)`` pieces; ``low == high`` is a point mass."""

    pieces: tuple[tuple[float, float, float], ...]
    seed: int = 0

    def __post_init__(self) -> None:
        total = sum(p for p, _, _ in self.pieces)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the probabilities of a ratio distribution must sum to 1, got {total}")
        for probability, low, high in self.pieces:
            check_ratio(low, "ratio range low")
            check_ratio(high, "ratio range high")
            if probability < 0 or low > high:
                raise ValueError(f"bad ratio piece ({probability}, {low}, {high})")

    def ratio(self, step: int) -> float:
        rng = random.Random(f"{self.seed}:{step}")
        u = rng.random()
        for probability, low, high in self.pieces:
            if u < probability:
                return low if low == high else rng.uniform(low, high)
            u -= probability
        _, low, high = self.pieces[-1]
        return low if low == high else rng.uniform(low, high)


def Algorithm2(seed: int = 0) -> Ranges:
    """The report's stage-3 sampler: u<0.1 -> U(0.1, 0.33); <0.5 -> 0.33333; <0.8 -> U(0.33, 0.66); else U(0.66, 1)."""
    return Ranges(((0.1, 0.1, 0.33), (0.4, 0.33333, 0.33333), (0.3, 0.33, 0.66), (0.2, 0.66, 1.0)), seed=seed)
