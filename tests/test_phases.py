"""A study's phases: each one announced, timed, and named when it fails; an interrupt is left alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jasper_tc import phases
from jasper_tc.phases import PhaseClock, PhaseFailed


def _ticking(monkeypatch, *readings: float) -> None:
    """The clock module reads these perf_counter values, in order."""
    monkeypatch.setattr(phases, "time", SimpleNamespace(perf_counter=iter(readings).__next__))


def test_each_phase_is_announced_and_its_wall_time_kept(monkeypatch):
    _ticking(monkeypatch, 10.0, 12.34, 20.0, 20.06)
    said = []
    clock = PhaseClock(said.append)
    with clock.phase("data: bilingual paragraph sample"):
        said.append("working")
        rows = 3
    with clock.phase("stage 1: distill, no compression"):
        pass
    assert rows == 3  # what a phase assigns is there after it
    assert said == ["== data: bilingual paragraph sample", "working", "== stage 1: distill, no compression"]
    assert clock.timings == {"data: bilingual paragraph sample": 2.3, "stage 1: distill, no compression": 0.1}


def test_a_failure_leaves_as_the_phase_that_failed(monkeypatch):
    _ticking(monkeypatch, 0.0, 1.0, 1.0)
    clock = PhaseClock(lambda text: None)
    with clock.phase("stage 1: distill, no compression"):
        pass
    cause = FileNotFoundError("corpus-en.jsonl.gz: no such file")
    name = "evaluate the teacher (training-free compression)"
    with pytest.raises(PhaseFailed) as caught, clock.phase(name):
        raise cause
    assert str(caught.value) == f"phase {name!r} failed: corpus-en.jsonl.gz: no such file"
    assert caught.value.phase == name and caught.value.__cause__ is cause
    assert clock.timings == {"stage 1: distill, no compression": 1.0}  # a failed phase gets no time


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_goes_through_unchanged(stop):
    clock = PhaseClock(lambda text: None)
    with pytest.raises(stop), clock.phase("stage 3: ratios drawn per step, + Gram-matrix loss"):
        raise stop()
    assert clock.timings == {}
