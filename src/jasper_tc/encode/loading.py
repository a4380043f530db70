"""``jasper_tc.load``: one entry point for every model the encoder runs.

A folder saved by this package, a folder laid out like the release, a hub name (when online), or any
sentence-transformers / transformers embedding model (a teacher or a baseline).
"""

from __future__ import annotations

import os

import torch
from transformers import AutoTokenizer

from ..model import JasperTCModel, resolve_model
from ..model.release import is_jasper_config, read_config_json
from ..model.weights import check_weight_files
from .backends import JasperBackend, SentenceTransformerBackend
from .encoder import Encoder
from .precision import check_int8_device, load_dtype, parse_precision, precision_name, probe_precision, set_precision

__all__ = ["BACKENDS", "load"]

BACKENDS = ("torch", "openvino", "auto")  # what runs the forward; "auto": the fastest found installed here


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def is_jasper_checkpoint(name_or_path: str | os.PathLike) -> bool:
    """True for this package's checkpoints and for release-layout folders."""
    return is_jasper_config(read_config_json(name_or_path))


def load(
    name_or_path: str | os.PathLike,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str | None = None,
    padding_free: bool = False,
    backend: str = "torch",
) -> Encoder:
    """Load a model for encoding.

    Args:
        name_or_path: a local folder or a hub name.
        device: default ``cuda`` when available, else ``cpu``.
        dtype: e.g. ``torch.bfloat16`` or ``"bf16"``; ``"int8"`` (CPU: the linear layers dynamically
            quantized); ``"auto"``: the fastest this machine runs within cosine 0.999 of fp32, measured by a
            short probe (``encoder.precision_probe`` says what it measured). Default: as saved.
        padding_free: Jasper-TC models on a causal backbone (Qwen3): each batch runs as one packed row
            without padding (pays on a GPU with flash-attention; the same embeddings either way).
        backend: ``"torch"``; ``"openvino"`` (CPU, Jasper-TC models: the transformer compiled by OpenVINO,
            the export cached in the model folder's ``openvino/``; needs the ``openvino`` extra); ``"auto"``:
            the probe of ``dtype="auto"`` over every runtime installed here, which says what it picked.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    text = os.path.expanduser(resolve_model(name_or_path))
    looks_local = text.startswith((".", "/", "~")) or text.count("/") > 1  # hub names are "owner/name"
    if looks_local and not os.path.isdir(os.path.expanduser(text)):
        raise FileNotFoundError(f"no model folder at {text}")
    device = device or _default_device()
    precision = parse_precision(dtype)  # the precision is settled before the encoder exists
    runtime = backend
    if precision == "int8":
        check_int8_device(device)  # before the model loads
    try:
        weights = load_dtype(precision) if runtime == "torch" else torch.float32  # other runtimes convert fp32
        loaded = _load_backend(text, device, weights, padding_free)
    except OSError as error:
        if os.path.isdir(os.path.expanduser(text)):
            raise
        raise OSError(
            f"cannot load {text!r}: it is no local folder, and the hub is unreachable or has no such model "
            f"(offline machines: pass a folder). Cause: {error}"
        ) from None
    if runtime != "torch":
        return _other_runtime(loaded, text, precision, runtime)
    probe = None
    if precision == "auto":
        probe = probe_precision(loaded)
        precision = probe.choice
    elif precision == "int8":
        loaded.model = set_precision(loaded.model, "int8", loaded.device)
    elif precision is None:
        precision = precision_name(loaded.dtype)
    return Encoder(loaded, precision, probe)


def _other_runtime(loaded, folder: str, precision: str | None, runtime: str) -> Encoder:
    """``backend="openvino"`` (at the precision asked, or the faster within cosine 0.999 under ``auto``), or
    ``backend="auto"``: every torch precision and, where installed, OpenVINO's, measured alike."""
    from .openvino import openvino_available, openvino_backend

    if runtime == "openvino" and precision != "auto":
        return Encoder(openvino_backend(loaded, folder, precision), f"openvino {precision or 'fp32'}")
    if runtime == "auto" and precision not in (None, "auto"):
        raise ValueError(f"backend='auto' chooses the precision too; give dtype='auto' or none, not {precision!r}")
    others = {}
    if openvino_available() and isinstance(loaded, JasperBackend) and loaded.device.type == "cpu":
        for name in ("fp32", "bf16"):
            others[f"openvino {name}"] = lambda fp32, name=name: openvino_backend(fp32, folder, name)
    if runtime == "auto":
        probe = probe_precision(loaded, others=others)
    else:  # torch's fp32 is the reference, not a candidate
        probe = probe_precision(loaded, precisions=("fp32",), others=others, torch_candidates=False)
    return Encoder(probe.backend or loaded, probe.choice, probe)


def _load_backend(name_or_path: str, device: str | torch.device, dtype: torch.dtype | None, padding_free: bool):
    if os.path.isdir(name_or_path):
        check_weight_files(name_or_path)  # a file cut short is named, before a library fails on it
    if is_jasper_checkpoint(name_or_path):
        model = JasperTCModel.from_pretrained(name_or_path, **({"dtype": dtype} if dtype else {}))
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        backend = JasperBackend(model.to(device), tokenizer, name=str(name_or_path))
        backend.padding_free = padding_free
        return backend
    if padding_free:
        raise ValueError(f"padding_free applies to Jasper-TC models; {name_or_path} is a sentence-transformers model")

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(name_or_path), device=str(device), model_kwargs={"dtype": dtype} if dtype else None)
    return SentenceTransformerBackend(model, name=str(name_or_path))
