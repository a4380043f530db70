"""What the package ships beside its code, found through the installed package, never the current folder.

``configs/``: the stage and teacher recipes (``minilm-cpu/``, ``jasper-600m/``, ``teachers/``) and the
evaluation suites (``eval/``). ``data/``: the quickstart's Wikipedia sample and the suites' task data,
each folder with a README naming its sources and licenses. A checkout links ``configs/`` and ``data/``
at its root to these folders.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIGS", "DATA", "find_suite", "shipped_suites"]

CONFIGS = Path(__file__).resolve().parent / "configs"
DATA = Path(__file__).resolve().parent / "data"


def shipped_suites() -> list[str]:
    """Names of the evaluation suites that ship with the package."""
    return sorted(path.stem for path in (CONFIGS / "eval").glob("*.yaml"))


def find_suite(suite: str | Path) -> Path:
    """A suite YAML given as a file path, or by the name of a shipped suite (``local-bilingual``)."""
    path = Path(suite).expanduser()
    if path.is_file():
        return path
    shipped = CONFIGS / "eval" / f"{suite}.yaml"
    if path.suffix == "" and shipped.is_file():
        return shipped
    raise FileNotFoundError(
        f"suite {str(suite)!r}: no such file, and no shipped suite of that name "
        f"(shipped: {', '.join(shipped_suites())})"
    )
