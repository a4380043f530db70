"""Training checkpoints: atomic, keep-last-k, with the resolved config beside them.

A checkpoint is ``OUTPUT/checkpoints/step-NNNNNNNN/``: accelerate's full state (model, optimizer,
scheduler, every process's RNG) plus ``state.json`` (step, config, and every file's size and SHA-256).
It is written under a ``.tmp`` name and renamed when complete, so a run killed mid-save leaves the
previous checkpoint as the latest; partial folders are ignored and cleaned up. A resume checks the
latest checkpoint's files first: a damaged one (a file missing, cut short or changed) is named and the
previous kept checkpoint is used instead.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_json
from ..configs import ConfigError
from ..store import sha256_file
from .config import TrainConfig

__all__ = [
    "checkpoint_problem",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
    "usable_checkpoint",
    "write_model_folder",
]

FOLDER = "checkpoints"
STATE = "state.json"


def list_checkpoints(output: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints as ``(step, folder)``, oldest first (the step from the folder's name)."""
    folder = Path(output) / FOLDER
    found = []
    for path in folder.glob("step-*"):
        if path.suffix != ".tmp" and (path / STATE).is_file() and path.name[5:].isdigit():
            found.append((int(path.name[5:]), path))
    return sorted(found)


def latest_checkpoint(output: str | Path) -> tuple[int, Path] | None:
    found = list_checkpoints(output)
    return found[-1] if found else None


def _file_records(folder: Path) -> dict[str, dict]:
    """Every file of a checkpoint but ``state.json``: its size and SHA-256."""
    return {
        str(path.relative_to(folder)): {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != STATE
    }


def checkpoint_problem(folder: Path) -> str | None:
    """Why a checkpoint cannot be trusted (its state unreadable, a file missing, cut short or changed), or None.
    Checkpoints saved before their files were recorded are trusted as they are."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"its {STATE} cannot be read ({error})"
    for name, record in (state.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != record["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, expected {record['bytes']}"
        if sha256_file(path) != record["sha256"]:
            return f"{name} does not match its checksum"
    return None


def usable_checkpoint(output: str | Path, say: Callable[[str], None]) -> tuple[int, Path] | None:
    """The latest checkpoint whose files are sound; each damaged one on the way is named. None if there are
    no checkpoints; an error naming every one if none is sound."""
    found = list_checkpoints(output)
    damaged = []
    for left, (step, folder) in reversed(list(enumerate(found))):
        problem = checkpoint_problem(folder)
        if problem is None:
            return step, folder
        damaged.append(f"{folder}: {problem}")
        say(f"checkpoint {folder} is damaged ({problem})" + ("; trying the one before" if left else ""))
    if damaged:
        raise ConfigError(f"--resume in {output}", ["no sound checkpoint is left:", *damaged])
    return None


def write_model_folder(model, tokenizer, final: Path, state_dict: dict | None = None) -> Path:
    """A jasper-tc model folder written under ``<name>.tmp`` and renamed into place: readers see all or nothing."""
    partial = final.with_name(f"{final.name}.tmp")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, tokenizer=tokenizer, state_dict=state_dict)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return final


def save_checkpoint(accelerator, output: str | Path, step: int, config: TrainConfig, keep_last: int) -> Path:
    """Save the full training state at ``step`` (a collective: every process calls it)."""
    final = Path(output) / FOLDER / f"step-{step:08d}"
    if (final / STATE).is_file():  # this step is saved already (a finished run resumed): keep it as it is
        accelerator.wait_for_everyone()
        return final
    partial = final.with_name(final.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        files = _file_records(partial)
        state = {"step": step, "processes": accelerator.num_processes, "config": config.to_dict(), "files": files}
        atomic_write_json(partial / STATE, state)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        for _, old in list_checkpoints(output)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in (Path(output) / FOLDER).glob("step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _differences(saved: dict, current: dict, where: str = "") -> list[str]:
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{where}{key}.")
        elif a != b:
            out.append(f"{where}{key}: {a!r} in the checkpoint, {b!r} now")
    return out


def load_checkpoint(accelerator, folder: Path, config: TrainConfig) -> int:
    """Restore the state saved in ``folder`` and return its step; a changed config is an error naming the keys."""
    saved = json.loads((folder / STATE).read_text(encoding="utf-8"))
    ignored = ("checkpoint", "log_every", "tensorboard")
    differences = _differences(
        {k: v for k, v in saved["config"].items() if k not in ignored},
        {k: v for k, v in config.to_dict().items() if k not in ignored},
    )
    saved_processes = saved.get("processes", 1)
    if saved_processes != accelerator.num_processes:
        differences.append(
            f"processes: {saved_processes} in the checkpoint, {accelerator.num_processes} now (the rows of each step "
            "and the steps per epoch depend on it)"
        )
    if differences:
        raise ConfigError(f"--resume from {folder}", ["the run changed since this checkpoint:", *differences])
    try:
        accelerator.load_state(str(folder))
    except Exception as error:  # a file its record did not cover, or a format this torch cannot read
        raise ConfigError(f"--resume from {folder}", [f"the checkpoint cannot be loaded: {error}"]) from None
    return int(saved["step"])
