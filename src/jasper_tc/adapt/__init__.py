"""Make any mean-pooled embedding model compression-ready: ``jasper-tc adapt``.

``source`` (what the user's model is, and whether it fits), ``plan`` (what adapt is asked to do),
``texts`` (the training texts), ``stages`` (the teacher store and the training stages of the shipped
recipe ``configs/adapt/``, as typed configs), ``pipeline`` (the phases), ``measure`` (closeness to the
original and speed; quality goes through the recipes' one evaluation) and ``card`` (the model folder and
its card).
"""

from .pipeline import run_adapt
from .plan import SMOKE, SMOKE_OVERRIDES, AdaptPlan, split_overrides
from .source import SourceModel, UnsupportedModel, inspect_source

__all__ = [
    "SMOKE",
    "SMOKE_OVERRIDES",
    "AdaptPlan",
    "SourceModel",
    "UnsupportedModel",
    "inspect_source",
    "run_adapt",
    "split_overrides",
]
