"""The studies: the project's own commands run end to end at CPU scale, and what they write.

This package owns the quickstart (``quickstart``: the whole recipe phase by phase, from the shipped
sample to a report), the claims study on top of it (``reproduction``: the runs the report's claims
need and their ``results.json``; ``design``: what it compares), the page written from those results
(``page`` and its ``plots``), and the phases both are made of (``phases``: announced, timed, and
named when they fail). ``jasper-tc quickstart`` and ``jasper-tc reproduce`` drive them.
"""

from __future__ import annotations

from ..phases import PhaseClock, PhaseFailed
from .design import LONG_TASKS, STUDY_RATIOS
from .page import write_document
from .quickstart import QUICKSTART_RATIOS, SMOKE_SIZES, Plan, run_lifecycle
from .reproduction import Study, full_study, reproduce, run_study, smoke_study

__all__ = [
    "LONG_TASKS",
    "QUICKSTART_RATIOS",
    "SMOKE_SIZES",
    "STUDY_RATIOS",
    "PhaseClock",
    "PhaseFailed",
    "Plan",
    "Study",
    "full_study",
    "reproduce",
    "run_lifecycle",
    "run_study",
    "smoke_study",
    "write_document",
]
