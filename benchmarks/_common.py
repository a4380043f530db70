"""What the benchmarks share: the 600M model shape, where data and results live, the machine they ran on,
timing on a device, and the markdown and JSON results they write.

The scripts are run as ``python benchmarks/<name>.py``, so this folder is on their path and each imports
``_common``; none imports another benchmark.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import Qwen3Config

from jasper_tc.model.release import RELEASE_BACKBONE, release_backbone_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"  # the machine's shared data sets (STS-B, Wikipedia paragraphs, ...)
RESULTS = Path(__file__).parent / "results"

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
QWEN3_600M_LAYERS = RELEASE_BACKBONE["num_hidden_layers"]


def qwen3_600m_config(layers: int = QWEN3_600M_LAYERS) -> Qwen3Config:
    """The backbone of Qwen3-Embedding-0.6B, ``layers`` of its 28 decoder layers deep; weights random."""
    return release_backbone_config(num_hidden_layers=layers)


# The machine


def cpu_flags() -> list[str]:
    """The CPU features that decide the fast CPU path (bf16 units, VNNI, AMX), as ``dtype="auto"`` sees them."""
    from jasper_tc.encode.precision import cpu_flags as flags

    return flags()


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's architecture (``x86_64 CPU``)."""
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU"


def cpu_description() -> str:
    """Cores, torch threads and the CPU flags that matter, e.g. ``2 cores, 2 threads, flags avx2 avx512f``."""
    flags = " ".join(cpu_flags()) or "none of note"
    return f"{os.cpu_count()} cores, {torch.get_num_threads()} threads, flags {flags}"


# Timing


def sync(device: str | torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def clock(device: str | torch.device) -> Callable[[], float]:
    """``time.perf_counter`` read after the device's queued work is done."""

    def now() -> float:
        sync(device)
        return time.perf_counter()

    return now


def timed(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after one warm-up."""
    fn()
    now = clock(device)
    times = []
    for _ in range(repeats):
        start = now()
        fn()
        times.append(now() - start)
    return statistics.median(times)


# Results


def table_head(*columns: str, left: int = 0) -> list[str]:
    """A markdown table's header line and rule: the first ``left`` columns left-aligned, the rest (numbers)
    right-aligned."""
    rule = ["---" if i < left else "---:" for i in range(len(columns))]
    return ["| " + " | ".join(columns) + " |", "|" + "|".join(rule) + "|"]


def table_row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def write_results(stem: str, text: str, data: object = None) -> Path:
    """``results/<stem>.md`` (and ``results/<stem>.json`` when ``data`` is given); the markdown's path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stem}.md"
    path.write_text(text, encoding="utf-8")
    if data is not None:
        (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only), as the package's plots use it."""
    from jasper_tc.figures import pyplot as package_pyplot

    return package_pyplot()
