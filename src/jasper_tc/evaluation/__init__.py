"""Evaluation: local suites of MTEB-style tasks at several compression ratios, and their reports.

``tasks`` (suite and task configs; task files read with errors naming file and line), ``metrics`` (the
metrics as MTEB defines them, checked by hand), ``suite`` (a suite run over ratios: one JSON per task x
ratio, failures recorded and named), ``report`` (quality against ratio, latency against length, runs side
by side; the tables come from :mod:`jasper_tc.pages`, the plots from :mod:`jasper_tc.figures`) and
``mteb_adapter`` (mteb's encoder protocol with the release's settings; it needs the ``mteb`` extra, so it
is not imported here).

Imports ``encode``, ``model``, ``configs``, ``pages``, ``figures``, ``results`` and ``atomic``.
"""

from .suite import EmbeddingCache, TaskFailures, failed_tasks, load_records, run_suite
from .tasks import LoadedTask, SuiteConfig, TaskConfig, TaskError, load_suite, load_task, select_tasks

__all__ = [
    "EmbeddingCache",
    "LoadedTask",
    "SuiteConfig",
    "TaskConfig",
    "TaskError",
    "TaskFailures",
    "failed_tasks",
    "load_records",
    "load_suite",
    "load_task",
    "run_suite",
    "select_tasks",
]
