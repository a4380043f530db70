"""Where a run reports: ``log.jsonl`` (one JSON object per logged step), TensorBoard, and a progress bar.

On resume the log is cut back to the checkpoint's step, so it reads as one uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes

__all__ = ["RunLog"]


class RunLog:
    def __init__(self, output: Path, *, main: bool, total: int, start: int, tensorboard: bool) -> None:
        self.main = main
        self.path = output / "log.jsonl"
        self.writer = None
        self.progress = tqdm(
            total=total, initial=start, desc="train", unit="step", disable=not main, dynamic_ncols=True
        )
        if not main:
            return
        if self.path.is_file():  # keep what the resumed run had logged up to its checkpoint
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines() if _step(line) <= start]
            atomic_write_bytes(self.path, "".join(line + "\n" for line in kept).encode("utf-8"))
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(output / "tensorboard"), purge_step=start + 1 if start else None)

    def step(self, record: dict, *, write: bool) -> None:
        """Advance the bar; with ``write``, also append ``record`` to the log and TensorBoard."""
        if not self.main:
            return
        self.progress.update(1)
        self.progress.set_postfix(
            loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}", ratio=f"{record['ratio']:.2f}",
            tok_s=f"{record['tokens_per_s']:.0f}",
        )  # fmt: skip
        if not write:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.writer.add_scalar(f"train/{key}", value, record["step"])
                elif isinstance(value, dict):
                    for name, inner in value.items():
                        self.writer.add_scalar(f"{key}/{name}", inner, record["step"])

    def message(self, text: str) -> None:
        if self.main:
            self.progress.write(text)

    def close(self) -> None:
        self.progress.close()
        if self.writer is not None:
            self.writer.close()


def _step(line: str) -> float:
    """The step of a log line; a torn last line (the process was killed mid-write) sorts after everything."""
    try:
        return json.loads(line).get("step", 0)
    except (json.JSONDecodeError, AttributeError):
        return float("inf")
