"""The layer every end-to-end recipe runs on -- ``adapt``, the quickstart, the four-stage life cycle, the
reproduction and the studies: the ratios, tasks and scales they share, defined once (``scales``); one way
to build and run a training stage from its YAML template with typed changes, raising on a stop
(``stages``); and one way to evaluate a model, kept and read back while it still describes that model
(``evaluation``).

Imports ``training``, ``evaluation``, ``encode``, ``model``, ``configs``, ``resources`` and ``atomic``.
"""

from . import scales
from .evaluation import Evaluation, evaluate, model_fingerprint
from .scales import *  # noqa: F403 -- the shared ratios, tasks and scales, listed in its __all__
from .stages import StageStopped, StageSummary, read_stage, run_stage, stage_config, stage_summary, summarize_stage

__all__ = [
    *scales.__all__,
    "Evaluation",
    "StageStopped",
    "StageSummary",
    "evaluate",
    "model_fingerprint",
    "read_stage",
    "run_stage",
    "stage_config",
    "stage_summary",
    "summarize_stage",
]
