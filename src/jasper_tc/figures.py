"""Every figure the project draws: lines on panels, described as data and drawn by one function.

A figure is a :class:`Figure` of :class:`Panel` s of :class:`Line` s; :func:`draw` writes it to a PNG on
matplotlib's Agg backend (files only, no display needed). Quality against ratio, time against length, the
claims study's four panels: each is a few lines of data built beside the page that shows it.

Imports nothing else from the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "Line", "Panel", "draw", "pyplot"]


@dataclass(frozen=True)
class Line:
    label: str
    x: list[float]
    y: list[float]  # NaN: no point (a failed task), the line breaks there
    style: str = "-"
    marker: str | None = "o"  # None: a guide, not measured points


@dataclass(frozen=True)
class Panel:
    title: str
    lines: list[Line]
    xlabel: str = "compression ratio"
    ylabel: str = ""
    xscale: str = "linear"
    yscale: str = "linear"
    invert_x: bool = False  # ratio 1.0 on the left
    reference: tuple[str, float] | None = None  # a dotted horizontal line: (label, value)


@dataclass(frozen=True)
class Figure:
    panels: list[Panel]
    title: str = ""
    columns: int | None = None  # panels per row; None: all in one row
    panel_size: tuple[float, float] = (5.5, 4.2)
    legend_size: int = 8
    legend_columns: int = 1
    legend_outside: bool = False  # right of each panel, for many lines that would hide the data


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_panel(ax, panel: Panel, legend_size: int, legend_columns: int, outside: bool = False) -> None:
    if panel.reference is not None:
        label, value = panel.reference
        ax.axhline(value, color="grey", linestyle=":", label=label)
    for line in panel.lines:
        if any(not math.isnan(v) for v in line.y):
            ax.plot(line.x, line.y, line.style, marker=line.marker, label=line.label)
    ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel, xscale=panel.xscale, yscale=panel.yscale)
    if panel.invert_x:
        ax.invert_xaxis()
    ax.grid(alpha=0.3)
    if panel.lines or panel.reference:
        place = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)} if outside else {}
        ax.legend(fontsize=legend_size, ncol=legend_columns, **place)


def draw(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` to ``path`` (PNG)."""
    plt = pyplot()
    columns = figure.columns or len(figure.panels)
    rows = math.ceil(len(figure.panels) / columns)
    width, height = figure.panel_size
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax, panel in zip(axes.flat, figure.panels):
        _draw_panel(ax, panel, figure.legend_size, figure.legend_columns, figure.legend_outside)
    for ax in list(axes.flat)[len(figure.panels) :]:
        ax.set_visible(False)
    if figure.title:
        fig.suptitle(figure.title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
