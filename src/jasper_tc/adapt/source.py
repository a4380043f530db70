"""The model a user brings to ``adapt``: what it is, and whether the pool can sit in front of it unchanged.

``adapt`` rebuilds the model as a Jasper-TC student (its own backbone, mean pooling, ``linear_1`` at the
identity) and checks that this student *is* the original model before anything trains. That holds for
a transformers folder (sentence-transformers mean-pools those) and for a sentence-transformers folder
made of a Transformer, a mean Pooling and an optional Normalize; anything else (CLS or last-token
pooling, Dense layers) is refused here, naming what does not fit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..model import resolve_model
from ..model.builders import sentence_transformers_max_length, transformer_folder
from ..model.release import is_jasper_config, read_config_json

__all__ = ["SourceModel", "UnsupportedModel", "inspect_source"]


class UnsupportedModel(ValueError):
    """The model cannot be adapted as it is; the message says what does not fit and why."""


@dataclass(frozen=True)
class SourceModel:
    path: str  # a local folder (hub names of packaged models resolved)
    name: str  # as the user gave it
    hidden_size: int
    max_length: int | None  # where the original cuts inputs (sentence-transformers setting), if it says
    prompts: dict[str, str]


def _pooling_problem(folder: Path, module: dict) -> str | None:
    settings = folder / module.get("path", "") / "config.json"
    if not settings.is_file():
        return None  # sentence-transformers' default pooling is the mean
    config = json.loads(settings.read_text(encoding="utf-8"))
    modes = sorted(
        key.removeprefix("pooling_mode_") for key, on in config.items() if key.startswith("pooling_mode_") and on
    )
    if modes not in ([], ["mean_tokens"]):
        return (
            f"it pools by {', '.join(modes)}; adapt needs mean pooling (the token compressor averages "
            "neighbouring tokens, so a CLS or last token would not survive it)"
        )
    return None


def _module_problems(folder: Path) -> list[str]:
    """What in a sentence-transformers pipeline does not fit a mean-pooled Jasper-TC student."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return []
    problems = []
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        kind = module.get("type", "").rsplit(".", 1)[-1]
        if kind == "Pooling":
            problem = _pooling_problem(folder, module)
            if problem:
                problems.append(problem)
        elif kind not in ("Transformer", "Normalize"):
            problems.append(
                f"its module {module.get('name', '?')!r} is a {kind}, which a Jasper-TC model has no place for"
            )
    return problems


def _prompts(folder: Path) -> dict[str, str]:
    settings = folder / "config_sentence_transformers.json"
    if not settings.is_file():
        return {}
    return dict(json.loads(settings.read_text(encoding="utf-8")).get("prompts") or {})


def inspect_source(name_or_path: str | os.PathLike) -> SourceModel:
    """Read what ``adapt`` needs to know of a model folder, or raise :class:`UnsupportedModel`."""
    path = resolve_model(name_or_path)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UnsupportedModel(
            f"{name_or_path}: no model folder there (adapt reads a local folder or an installed model)"
        )
    raw = read_config_json(transformer_folder(folder))
    if raw is None:
        raise UnsupportedModel(f"{name_or_path}: no config.json; not a transformers or sentence-transformers model")
    if is_jasper_config(raw):
        raise UnsupportedModel(f"{name_or_path} is a Jasper-TC model already: it is compression-ready")
    problems = _module_problems(folder)
    if problems:
        raise UnsupportedModel(f"{name_or_path} cannot be adapted as it is: " + "; ".join(problems))
    hidden = raw.get("hidden_size") or raw.get("d_model") or raw.get("dim")
    if not isinstance(hidden, int):
        raise UnsupportedModel(f"{name_or_path}: its config.json names no hidden size")
    return SourceModel(
        path=str(folder),
        name=str(name_or_path),
        hidden_size=hidden,
        max_length=sentence_transformers_max_length(folder),
        prompts=_prompts(folder),
    )
