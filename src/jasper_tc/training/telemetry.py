"""What a training step measured: its timings, the figures every process agrees on, and its log record.

This module owns the measuring and recording of a step, and nothing that changes training: the clock
(wall time after the device's queued work), where a step's time went (data, forward, backward,
optimizer, the rest), the one collective per step that averages loss and terms over processes, sums
the tokens and spreads a stop request, and the ``log.jsonl`` record made of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .objective import StepResult

if TYPE_CHECKING:
    from accelerate import Accelerator

__all__ = ["Shared", "StepClock", "StepTimes", "share", "step_record"]


@dataclass(frozen=True)
class StepTimes:
    """When each part of a step ended, and the previous step's bookkeeping that counts towards this one."""

    began: float
    loaded: float
    stepped: float
    done: float
    bookkeeping: float


class StepClock:
    """Wall time, read after the device's queued work is done (CUDA kernels run asynchronously)."""

    def __init__(self, device: torch.device) -> None:
        self._sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        self._last_done: float | None = None

    def __call__(self) -> float:
        self._sync()
        return time.perf_counter()

    def times(self, began: float, loaded: float, stepped: float, done: float) -> StepTimes:
        """A step's times; the previous step's bookkeeping (collective, log, checkpoint) counts towards it."""
        bookkeeping = began - self._last_done if self._last_done is not None else 0.0
        self._last_done = done
        return StepTimes(began, loaded, stepped, done, bookkeeping)


@dataclass(frozen=True)
class Shared:
    """One step's figures agreed by every process (one collective per step)."""

    loss: float
    terms: dict[str, float]
    tokens: int
    stop_requested: bool  # some process was asked to stop (Ctrl-C, SIGTERM or ``on_step``)


def share(accelerator: Accelerator, result: StepResult, tokens: int, stop: bool) -> Shared:
    """Mean loss and terms over processes, the summed token count, and whether any process must stop."""
    names = sorted(result.terms)
    values = [float(result.loss), *(float(result.terms[n]) for n in names), tokens, float(stop)]
    shared = torch.tensor(values, device=accelerator.device)
    if accelerator.num_processes > 1:
        shared = accelerator.reduce(shared, reduction="sum")
        shared[: 1 + len(names)] /= accelerator.num_processes
    values = shared.tolist()
    return Shared(values[0], dict(zip(names, values[1 : 1 + len(names)])), int(values[-2]), values[-1] > 0)


def step_record(step: int, steps_per_epoch: int, shared: Shared, result: StepResult, times: StepTimes, **extra) -> dict:
    """The ``log.jsonl`` record of one step: loss and terms, throughput, and where the step's time went."""
    seconds = times.done - times.began + times.bookkeeping
    data_s, optimizer_s = times.loaded - times.began, times.done - times.stepped
    return {
        "step": step,
        "epoch": round(step / steps_per_epoch, 4),
        "loss": shared.loss,
        "terms": shared.terms,
        **extra,
        "tokens": shared.tokens,
        "tokens_per_s": shared.tokens / seconds,
        "step_s": seconds,
        "seconds": {
            "data": data_s,
            "forward": result.forward_s,
            "backward": result.backward_s,
            "optimizer": optimizer_s,
            # bookkeeping (collective, log, checkpoint) and whatever the sections above do not cover
            "other": max(0.0, seconds - data_s - result.forward_s - result.backward_s - optimizer_s),
        },
    }
