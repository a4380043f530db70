"""The claims study's page (``docs/reproduction.md``): the results judged (:mod:`.claims`), then rendered
(:mod:`jasper_tc.pages.reproduction`)."""

from __future__ import annotations

from pathlib import Path

from ..pages.reproduction import write_reproduction_page
from .claims import with_verdicts

__all__ = ["write_document"]


def write_document(results: dict, document: Path) -> dict:
    """Write ``document`` and its plots from ``results`` alone; return the results with their verdicts."""
    judged = with_verdicts(results)
    write_reproduction_page(judged, document)
    return judged
