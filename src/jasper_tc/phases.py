"""The phases of a long job (a study, `adapt`): each one announced, timed, and named when it fails.

Imports nothing else from the package.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["PhaseClock", "PhaseFailed"]


class PhaseFailed(RuntimeError):
    """A phase of a study failed: the message names the phase and the cause."""

    def __init__(self, phase: str, cause: BaseException) -> None:
        self.phase = phase
        super().__init__(f"phase {phase!r} failed: {cause}")


class PhaseClock:
    """Announces each phase through ``say`` and keeps its wall time; a failure inside names its phase.

    ::

        clock = PhaseClock(say)
        with clock.phase("stage 1: distill, no compression"):
            stage1 = train_stage(...)

    ``timings`` maps each finished phase to its wall time in seconds, rounded to 0.1 (a phase that
    fails gets none). Any ``Exception`` inside a phase leaves it as ``PhaseFailed(name, cause)``;
    ``KeyboardInterrupt`` and ``SystemExit`` go through unchanged.
    """

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say
        self.timings: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.say(f"== {name}")
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            raise PhaseFailed(name, error) from error
        self.timings[name] = round(time.perf_counter() - started, 1)
