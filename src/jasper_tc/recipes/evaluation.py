"""One way for a recipe to evaluate a model: tasks of the shipped suite at several ratios, cut to a limit
and a length, kept in a folder and read back -- but only while they still describe the same model and the
same settings, so that a model trained again (or a changed evaluation) is measured again.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import atomic_write_json
from ..resources import find_suite
from .scales import RATIOS

__all__ = ["Evaluation", "evaluate", "model_fingerprint"]

MEASURED = "measured.json"  # what a kept evaluation measured: the model's fingerprint and the settings


@dataclass(frozen=True)
class Evaluation:
    """What a recipe measures a model on."""

    tasks: tuple[str, ...] | None = None  # tasks of the shipped suite; None: every one but clustering and bitext
    ratios: tuple[float, ...] = RATIOS
    limit: int | None = None  # queries / pairs per task (None: as the suite has them)
    max_length: int | None = None  # tokens per input (None: the model's own limit)
    prompts: bool = False  # the suite's per-task prompts (the recipes' models are trained without them)
    device: str | None = None
    dtype: str | None = None  # load's dtype: None as saved; "auto" the fastest within cosine 0.999 here
    suite: str = "local-bilingual"

    def stamp(self) -> dict:
        """What a kept measurement must match: every setting (``dtype`` only when set, so that records kept
        before it existed stay valid)."""
        settings = asdict(self)
        if settings["dtype"] is None:
            del settings["dtype"]
        return json.loads(json.dumps(settings))


def model_fingerprint(model: str | Path) -> str:
    """What identifies a model's weights without reading them: a local folder's config and weight files by
    name, size and modification time; a hub name as itself."""
    from ..model import resolve_model

    folder = Path(resolve_model(str(model))).expanduser()
    if not folder.is_dir():
        return str(model)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".safetensors", ".bin", ".json", ".pt"):
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _kept(folder: Path, measured: dict) -> list[dict] | None:
    """The kept records, if they measured this model with these settings and no task failed."""
    from ..evaluation.suite import failed_tasks, load_records

    stamp = folder / MEASURED
    if not (folder / "summary.json").is_file() or not stamp.is_file():
        return None
    if json.loads(stamp.read_text(encoding="utf-8")) != measured:
        return None
    records = load_records(folder)["results"]
    return None if failed_tasks(records) else records


def evaluate(model: str | Path, name: str, folder: Path, evaluation: Evaluation) -> list[dict]:
    """``model`` on ``evaluation``'s tasks at its ratios: records per task x ratio (``folder`` keeps them,
    with ``table.md``). A task that fails raises :class:`~jasper_tc.evaluation.suite.TaskFailures` after the
    others ran; a run with failures is done again next time."""
    from ..encode import EncodeOptions, load
    from ..evaluation import report
    from ..evaluation.suite import TaskFailures, failed_tasks, run_suite
    from ..evaluation.tasks import load_suite, select_tasks

    measured = {"model": model_fingerprint(model), "evaluation": evaluation.stamp()}
    kept = _kept(folder, measured)
    if kept is not None:
        return kept
    suite, root = load_suite(find_suite(evaluation.suite))
    names = evaluation.tasks or [t.name for t in suite.tasks if t.type not in ("clustering", "bitext")]
    suite = select_tasks(suite, list(names), limit=evaluation.limit, prompts=evaluation.prompts)
    encoder = load(str(model), device=evaluation.device, dtype=evaluation.dtype)
    options = EncodeOptions(max_length=evaluation.max_length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation and (for a plain model) training-free pooling: the point here
        records = run_suite(encoder, suite, root, list(evaluation.ratios), folder, model_name=name, options=options)
    (folder / "table.md").write_text(report.results_table(records), encoding="utf-8")
    atomic_write_json(folder / MEASURED, measured)
    if failed := failed_tasks(records):
        raise TaskFailures(failed)
    return records
