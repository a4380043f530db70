"""What trains, and at which learning rate: the parameter-name patterns of a stage config.

Patterns are shell-style (``fnmatch``) over the names of ``JasperTCModel.named_parameters()``, e.g.
``jasper_mlp.*``, ``linear_1.*``, ``model.encoder.layer.5.*`` (BERT-like backbones) or
``model.layers.27.*`` (Qwen3). Progressive unfreezing (the MLP alone, then the projection, then the
last layers, then everything) is a ``trainable`` list per stage; ``optimizer.lr_by_pattern`` gives a
new module a larger learning rate than the pretrained backbone around it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

import torch

__all__ = ["freeze_all_but", "matches", "param_groups", "pattern_problems"]


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _own_name(name: str) -> str:
    """A parameter's name in the model itself, whatever wraps it (DDP adds ``module.``)."""
    return name.removeprefix("module.")


def pattern_problems(model: torch.nn.Module, trainable: list[str] | None, lr_by_pattern: dict | None) -> list[str]:
    """Patterns that name no parameter (a typo would silently freeze or slow the wrong things)."""
    names = [name for name, _ in model.named_parameters()]
    tops = sorted({name.split(".")[0] for name in names})
    problems = []
    for pattern in trainable or []:
        if not any(fnmatchcase(name, pattern) for name in names):
            problems.append(f"trainable: {pattern!r} matches no parameter (names start with {', '.join(tops)})")
    kept = [name for name in names if trainable is None or matches(name, trainable)]
    for pattern in lr_by_pattern or {}:
        if not any(fnmatchcase(name, pattern) for name in kept):
            problems.append(f"optimizer.lr_by_pattern: {pattern!r} matches no trainable parameter")
    return problems


def freeze_all_but(model: torch.nn.Module, trainable: list[str] | None) -> int:
    """Freeze every parameter no pattern names (None: train everything); return the trainable count."""
    count = 0
    for name, param in model.named_parameters():
        param.requires_grad_(trainable is None or matches(name, trainable))
        count += param.numel() if param.requires_grad else 0
    return count


def param_groups(
    named: Iterable[tuple[str, torch.nn.Parameter]], lr: float, weight_decay: float, lr_by_pattern: dict | None
) -> list[dict]:
    """AdamW groups: per learning rate (the first matching pattern's, else ``lr``), weight decay on
    matrices only (no decay on biases and norm weights)."""
    groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
    for name, param in named:
        if not param.requires_grad:
            continue
        own = _own_name(name)
        rate = next((value for pattern, value in (lr_by_pattern or {}).items() if fnmatchcase(own, pattern)), lr)
        groups.setdefault((rate, param.dim() >= 2), []).append(param)
    return [
        {"params": params, "lr": rate, "weight_decay": weight_decay if decays else 0.0}
        for (rate, decays), params in groups.items()
    ]
