"""The page's two plots, drawn from what the page decides to show: quality per claim, and encode time."""

from __future__ import annotations

from pathlib import Path

from ..evaluation.plotting import pyplot

__all__ = ["Curve", "Panel", "plot_panels", "plot_speed"]

Curve = tuple[str, list[float], str]  # label, a value per ratio, line style
Panel = tuple[str, list[Curve]]  # title, curves


def plot_panels(ratios: list[float], panels: list[Panel], title: str, path: Path) -> None:
    """Four panels (2 x 2) of nDCG@10 against the compression ratio, 1.0 on the left."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for ax, (panel_title, curves) in zip(axes.flat, panels, strict=True):
        for label, values, style in curves:
            ax.plot(ratios, values, style, marker="o", label=label)
        ax.set(title=panel_title, xlabel="compression ratio", ylabel="nDCG@10 × 100 (mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].invert_xaxis()  # the axes share x: once inverts them all (1.0 on the left)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_speed(speed: list[dict], path: Path, title: str) -> None:
    """ms per document against the ratio, a line per model and length (rows of ``measure_latency``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, style in (("teacher", "--"), ("student", "-")):
        for length in sorted({r["length"] for r in speed}):
            rows = sorted((r for r in speed if r["model"] == model and r["length"] == length), key=lambda r: r["ratio"])
            if rows:
                ax.plot([r["ratio"] for r in rows], [r["ms_per_doc"] for r in rows], style, marker="o",
                        label=f"{model}, {length} tokens")  # fmt: skip
    ax.set(xlabel="compression ratio", ylabel="ms per document", yscale="log", title=title)
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
