"""The studies: the project's own commands run end to end at CPU scale, and what they write.

This package owns the quickstart (``quickstart``: all-MiniLM-L6-v2 made compression-ready by ``adapt``),
the report's four-stage life cycle at CPU scale (``lifecycle``: from the shipped sample to a report),
the claims study on top of it (``reproduction``: the runs the report's claims need and their
``results.json``; ``design``: what it compares) and the page written from those results (``page`` and
its ``plots``), and the compression-training study (``compression``: one run per question, and
``compression_page``). ``jasper-tc quickstart``, ``reproduce`` and ``compression-study`` drive them.
"""

from __future__ import annotations

from ..phases import PhaseClock, PhaseFailed
from .lifecycle import SMOKE_SIZES, Plan, run_lifecycle
from .page import write_document
from .quickstart import quickstart_plan
from .reproduction import Study, full_study, reproduce, run_study, smoke_study

__all__ = [
    "SMOKE_SIZES",
    "PhaseClock",
    "PhaseFailed",
    "Plan",
    "Study",
    "full_study",
    "quickstart_plan",
    "reproduce",
    "run_lifecycle",
    "run_study",
    "smoke_study",
    "write_document",
]
