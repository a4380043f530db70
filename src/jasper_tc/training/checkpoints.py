"""Training checkpoints: atomic, keep-last-k, with the resolved config beside them.

A checkpoint is ``OUTPUT/checkpoints/step-NNNNNNNN/``: accelerate's full state (model, optimizer,
scheduler, every process's RNG) plus ``state.json`` (step and config). It is written under a
``.tmp`` name and renamed when complete, so a run killed mid-save leaves the previous checkpoint as
the latest; partial folders are ignored and cleaned up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..atomic import atomic_write_json
from ..configs import ConfigError
from .config import TrainConfig

__all__ = ["latest_checkpoint", "list_checkpoints", "load_checkpoint", "save_checkpoint", "write_model_folder"]

FOLDER = "checkpoints"
STATE = "state.json"


def list_checkpoints(output: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints as ``(step, folder)``, oldest first."""
    folder = Path(output) / FOLDER
    found = []
    for path in folder.glob("step-*"):
        if path.suffix != ".tmp" and (path / STATE).is_file():
            found.append((json.loads((path / STATE).read_text(encoding="utf-8"))["step"], path))
    return sorted(found)


def latest_checkpoint(output: str | Path) -> tuple[int, Path] | None:
    found = list_checkpoints(output)
    return found[-1] if found else None


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
        atomic_write_json(
            partial / STATE, {"step": step, "processes": accelerator.num_processes, "config": config.to_dict()}
        )
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
    accelerator.load_state(str(folder))
    return int(saved["step"])
