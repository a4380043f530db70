"""``mixed_precision: auto``: bf16 autocast where it measures faster on this machine, fp32 where not.

bf16 matmuls run ~1.5x fp32 in a training step on CPUs with bf16 units (avx512_bf16, AMX) and several
times slower on CPUs without, so a CPU is probed, never assumed: one transformer layer's forward and
backward, timed both ways (about a second). A GPU takes bf16 where it has it, else fp16.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import torch

__all__ = ["PRECISION_RECORD", "MixedPrecisionChoice", "make_accelerator", "resolve_mixed_precision"]

PRECISION_RECORD = "precision.json"  # in a stage's output: what it trained in, and why
MIN_SPEEDUP = 1.15  # below this, fp32's exactness is worth more than bf16's speed


@dataclass(frozen=True)
class MixedPrecisionChoice:
    """What a stage trains in (accelerate's ``mixed_precision``) and why."""

    setting: str  # "no", "bf16" or "fp16"
    reason: str


def _step_seconds(layer: torch.nn.Module, batch: torch.Tensor, bf16: bool, repeats: int = 3) -> float:
    """Seconds per forward and backward of ``layer`` on ``batch``, after one warm-up."""
    for i in range(repeats + 1):
        if i == 1:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = layer(batch)
        out.float().pow(2).mean().backward()
    return (time.perf_counter() - started) / repeats


@functools.cache
def _cpu_probe() -> MixedPrecisionChoice:
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(384, 6, 1536, dropout=0.0, batch_first=True)
    batch = torch.randn(8, 128, 384)
    try:
        fp32 = min(_step_seconds(layer, batch, False) for _ in range(2))
        bf16 = min(_step_seconds(layer, batch, True) for _ in range(2))
    except RuntimeError as error:  # a build without CPU bf16 kernels
        return MixedPrecisionChoice("no", f"bf16 autocast unavailable on this CPU ({error})")
    speedup = fp32 / bf16
    measured = f"a training step of a probe layer ran {speedup:.2f}x fp32's speed in bf16 autocast"
    if speedup >= MIN_SPEEDUP:
        return MixedPrecisionChoice("bf16", measured)
    return MixedPrecisionChoice("no", f"{measured} (< {MIN_SPEEDUP}x): fp32")


def resolve_mixed_precision(setting: str) -> MixedPrecisionChoice:
    """``setting`` as given, or for ``auto`` what this machine measures fastest."""
    if setting != "auto":
        return MixedPrecisionChoice(setting, "as configured")
    if torch.cuda.is_available():
        choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return MixedPrecisionChoice(choice, "GPU: no probe")
    return _cpu_probe()


def make_accelerator(setting: str):
    """accelerate's ``Accelerator`` for a stage, in ``setting``'s precision. For ``auto`` under several
    processes, rank 0's probe decides for all (a probe near the threshold could otherwise split them)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import broadcast_object_list

    cpu = not torch.cuda.is_available()  # accelerate forms a multi-process CPU (gloo) group only when told so
    # accelerate keeps one state per process; stages run one after another in a process (the quickstart,
    # a notebook) may differ in precision, so start each from a fresh state (the process group is kept).
    AcceleratorState._reset_state()
    if setting != "auto":
        return Accelerator(mixed_precision=setting, cpu=cpu), resolve_mixed_precision(setting)
    accelerator = Accelerator(mixed_precision="no", cpu=cpu)
    choice = [resolve_mixed_precision("auto") if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        broadcast_object_list(choice)
    if choice[0].setting == "no":
        return accelerator, choice[0]
    AcceleratorState._reset_state()
    return Accelerator(mixed_precision=choice[0].setting, cpu=cpu), choice[0]
