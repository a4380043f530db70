"""The layer every end-to-end recipe runs on -- ``adapt``, the quickstart, the four-stage life cycle, the
reproduction and the studies: the ratios, tasks and scales they share, defined once (``scales``); one way
to build and run a training stage from its YAML template with typed changes, raising on a stop
(``stages``); and one way to evaluate a model, kept and read back while it still describes that model
(``evaluation``).

Imports ``training``, ``evaluation``, ``encode``, ``model``, ``configs``, ``resources`` and ``atomic``.
"""

from .evaluation import Evaluation, evaluate, model_fingerprint
from .scales import (
    ADAPT_TASKS,
    CHINESE_TASKS,
    HELD_OUT_TASK,
    LONG_TASKS,
    RATIOS,
    SCALES,
    SHORT_TASK,
    SMOKE_RATIOS,
    STUDY_RATIOS,
    Scale,
    check_scale,
    ratios_text,
)
from .stages import StageStopped, StageSummary, read_stage, run_stage, stage_config, summarize_stage

__all__ = [
    "ADAPT_TASKS",
    "CHINESE_TASKS",
    "HELD_OUT_TASK",
    "LONG_TASKS",
    "RATIOS",
    "SCALES",
    "SHORT_TASK",
    "SMOKE_RATIOS",
    "STUDY_RATIOS",
    "Evaluation",
    "Scale",
    "StageStopped",
    "StageSummary",
    "check_scale",
    "evaluate",
    "model_fingerprint",
    "ratios_text",
    "read_stage",
    "run_stage",
    "stage_config",
    "summarize_stage",
]
