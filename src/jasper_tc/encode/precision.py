"""How the forward runs on this machine: fp32, bf16 weights, or int8 linear layers -- chosen by measuring.

A bf16 matmul runs 2-3x fp32 on CPUs with bf16 units (avx512_bf16, AMX) and far slower on CPUs without;
int8 dynamic quantization of the linear layers pays where the CPU has VNNI. Neither can be assumed, so
``dtype="auto"`` times each on a short probe and keeps the fastest whose embeddings stay within
``min_cosine`` of fp32, and says what it picked (:class:`PrecisionProbe`). On a GPU it is bf16 (fp16
where bf16 is missing), without a probe.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "CPU_PRECISIONS",
    "PrecisionProbe",
    "check_int8_device",
    "cpu_flags",
    "load_dtype",
    "parse_precision",
    "precision_name",
    "probe_precision",
    "set_precision",
]

log = logging.getLogger("jasper_tc.encode")

CPU_PRECISIONS = ("fp32", "bf16", "int8")
# The one table of precisions: name -> the dtype the weights are loaded in. int8 and auto load in fp32
# (then quantized, or probed); the long names are accepted for torch's spelling.
_LOADED_AS = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "int8": torch.float32,
    "auto": torch.float32,
}
_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
_FLAGS_SHOWN = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")
# Our own probe text: plain prose of every length the probe needs (no data file is read).
_PROBE_TEXT = (
    "A river that crosses three countries carries their history with it: the mills that once lined its banks, "
    "the bridges rebuilt after every flood, the towns that grew where boats could be unloaded. Engineers who "
    "study it measure how fast the water moves in spring, how much silt it leaves in the delta, and how the "
    "dams upstream have changed the fish that swim there. Farmers watch the same river for different reasons. "
    "A dry summer means the fields need water from deeper wells, and a wet autumn can flood the lower pastures "
    "for weeks. Children learn its name before they learn to read a map, and old people remember the winter "
    "it froze from one bank to the other, when the whole village walked across to the market on the far side."
)


def cpu_flags() -> list[str]:
    """The CPU features that decide the fast path, as the kernel reports them (empty where unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    line = next((row for row in text.splitlines() if row.startswith("flags")), "")
    present = set(line.partition(":")[2].split())
    return [flag for flag in _FLAGS_SHOWN if flag in present]


def check_int8_device(device: str | torch.device) -> None:
    if torch.device(device).type != "cpu":
        raise ValueError(f"dtype='int8' runs on CPU only (torch's dynamic quantization), not on {device}; use bf16")


def parse_precision(dtype: torch.dtype | str | None) -> str | None:
    """A ``dtype`` argument as a precision name (fp32, bf16, fp16, int8 or auto); None: as saved."""
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        return precision_name(dtype)
    name = _ALIASES.get(dtype, dtype)
    if name not in _LOADED_AS:
        valid = [*sorted(["fp32", "bf16", "fp16", *_ALIASES]), "int8", "auto"]
        raise ValueError(f"unknown dtype {dtype!r}; use one of {valid} or a torch.dtype")
    return name


def load_dtype(precision: str | None) -> torch.dtype | None:
    """The dtype the weights are loaded in for ``precision`` (None: as saved)."""
    return None if precision is None else _LOADED_AS[precision]


def precision_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bf16"``: what ``encoder.precision`` says."""
    for name in ("fp32", "bf16", "fp16"):
        if _LOADED_AS[name] == dtype:
            return name
    raise ValueError(f"unsupported dtype {dtype}; use float32, bfloat16 or float16")


def set_precision(model: nn.Module, precision: str, device: torch.device) -> nn.Module:
    """``model`` converted in place (bf16/fp16/fp32) or replaced (int8: dynamically quantized linear layers)."""
    if precision == "int8":
        check_int8_device(device)
        import warnings

        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # torch.ao's deprecation notice: the API still ships and works
            warnings.simplefilter("ignore")
            # per output channel: a per-tensor scale loses more (cosine 0.94 against 0.98 on MiniLM)
            return quantize_dynamic(model.float(), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}; use one of fp32, bf16, fp16, int8 or auto")
    return model.to(_LOADED_AS[precision])


@dataclass
class PrecisionProbe:
    """What ``dtype="auto"`` measured and picked."""

    choice: str
    texts_per_s: dict[str, float] = field(default_factory=dict)
    min_cosine: dict[str, float] = field(default_factory=dict)
    cpu_flags: list[str] = field(default_factory=list)
    reason: str = ""
    backend: object = field(default=None, repr=False)  # the winner, when another runtime won

    def summary(self) -> str:
        if not self.texts_per_s:
            return f"dtype=auto picked {self.choice} ({self.reason})"
        base = self.texts_per_s.get("fp32") or 1.0
        shown = ", ".join(
            f"{name} {rate:.1f} texts/s ({rate / base:.2f}x, cosine {self.min_cosine.get(name, 1.0):.4f})"
            for name, rate in self.texts_per_s.items()
        )
        flags = " ".join(self.cpu_flags) or "none of note"
        return f"dtype=auto picked {self.choice} on this CPU (flags: {flags}): {shown}"


def probe_texts() -> list[str]:
    """The probe's 16 texts of 16-200 words."""
    words = _PROBE_TEXT.split()
    return [" ".join(words[: 16 + (i * 184) // 15]) for i in range(16)]


def time_backend(backend, texts: list[str], repeats: int = 2) -> tuple[float, torch.Tensor]:
    """Texts per second of ``backend`` on ``texts`` (batch 16, after a warm-up) and its normalised vectors."""
    from .encoder import Encoder

    probing = Encoder(backend)
    probing.encode(texts[:2], batch_size=16)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        vectors = probing.encode(texts, batch_size=16, output="torch")
    return repeats * len(texts) / (time.perf_counter() - started), vectors


def probe_precision(
    backend,
    *,
    min_cosine: float = 0.999,
    repeats: int = 2,
    precisions: tuple[str, ...] | None = None,
    others: dict[str, Callable] | None = None,
    torch_candidates: bool = True,
) -> PrecisionProbe:
    """Give ``backend`` (loaded in fp32) the fastest precision within ``min_cosine`` of fp32, before an
    encoder is built on it; return what was measured. Every candidate runs the same probe: 16 texts of
    16-200 words, batch 16. ``others`` are further candidates, each built from the fp32 backend (another
    runtime); when one wins, ``probe.backend`` is it. Without ``torch_candidates`` torch's fp32 is only the
    reference and one of ``others`` is chosen."""
    device = backend.device
    if device.type != "cpu":
        choice = "bf16" if device.type != "cuda" or torch.cuda.is_bf16_supported() else "fp16"
        backend.model = set_precision(backend.model, choice, device)
        return PrecisionProbe(choice, reason=f"{device.type}: no probe")
    texts = probe_texts()
    reference = None
    probe = PrecisionProbe("fp32", cpu_flags=cpu_flags())
    models = {"fp32": backend.model}
    for name in precisions or CPU_PRECISIONS:
        if name != "fp32":
            try:
                models[name] = set_precision(copy.deepcopy(models["fp32"]), name, device)
            except (RuntimeError, NotImplementedError) as error:  # a kernel this build or CPU lacks
                log.info("precision %s unavailable here: %s", name, error)
                continue
        backend.model = models[name]
        probe.texts_per_s[name], vectors = time_backend(backend, texts, repeats)
        reference = vectors if reference is None else reference
        probe.min_cosine[name] = float((vectors * reference).sum(-1).min())
    backend.model = models["fp32"]
    built = {}  # the other runtimes' backends, by name
    for name, build in (others or {}).items():
        try:
            built[name] = build(backend)
        except (ImportError, ValueError, RuntimeError) as error:  # a runtime this machine lacks
            log.info("%s unavailable here: %s", name, error)
            continue
        probe.texts_per_s[name], vectors = time_backend(built[name], texts, repeats)
        probe.min_cosine[name] = float((vectors * reference).sum(-1).min())
    allowed = [n for n in probe.texts_per_s if probe.min_cosine[n] >= min_cosine and (torch_candidates or n in built)]
    if not allowed:
        raise ValueError(f"no candidate of {', '.join(others or {})} ran within cosine {min_cosine} of fp32 here")
    probe.choice = max(allowed, key=probe.texts_per_s.__getitem__)
    probe.backend = built.get(probe.choice)
    if probe.backend is None:
        backend.model = models[probe.choice]
    log.info(probe.summary())
    return probe
