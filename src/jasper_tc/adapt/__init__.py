"""Make any mean-pooled embedding model compression-ready: ``jasper-tc adapt``.

``source`` (what the user's model is, and whether it fits), ``pipeline`` (the phases: training texts,
the model as its own teacher, two training stages from the shipped recipe ``configs/adapt/``),
``measure`` (quality per ratio against the original and against training-free pooling, closeness,
speed) and ``card`` (the model folder and its card).
"""

from .pipeline import ADAPT_RATIOS, EVAL_TASKS, AdaptPlan, run_adapt, split_overrides
from .source import SourceModel, UnsupportedModel, inspect_source

__all__ = [
    "ADAPT_RATIOS",
    "EVAL_TASKS",
    "AdaptPlan",
    "SourceModel",
    "UnsupportedModel",
    "inspect_source",
    "run_adapt",
    "split_overrides",
]
