"""A Jasper-TC model whose transformer runs on OpenVINO (``jasper_tc.load(..., backend="openvino")``).

The embedding lookup, ``jasper_mlp`` and the token pool stay in torch: they are cheap, and the pool's output
length changes with every ratio. The backbone's layers -- nearly all of the cost -- are converted once into
an OpenVINO model with dynamic batch and length, taking ``inputs_embeds`` and the mask, and cached in the
model folder (``openvino/backbone.xml``, as sentence-transformers caches its own exports); a later load reads
the cache. Mean pooling and ``linear_1`` run in torch again. On a CPU with bf16 units OpenVINO runs the
layers in bf16 (``precision="bf16"``), else in fp32. Needs the ``openvino`` extra.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor, nn

from ..model import JasperTCModel
from ..model.modeling import PACKABLE_BACKBONES
from ..model.pooling import mean_pool
from .backends import JasperBackend

__all__ = ["OpenVINOBackend", "cpu_has_bf16", "openvino_available", "openvino_backend"]

CACHE = "openvino"


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_has_bf16() -> bool:
    """Whether OpenVINO can run bf16 on this CPU (bf16 units: avx512_bf16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def openvino_backend(backend, folder: str | None, precision: str | None) -> OpenVINOBackend:
    """``backend`` (a loaded :class:`JasperBackend`) with its layers on OpenVINO, or an error naming why not."""
    if not openvino_available():
        raise ImportError("backend='openvino' needs the openvino package: pip install 'jasper-tc[openvino]'")
    if not isinstance(backend, JasperBackend):
        raise ValueError(
            f"backend='openvino' runs Jasper-TC models; {backend.name} is a sentence-transformers model "
            "(sentence-transformers' own backend='openvino' runs it)"
        )
    if backend.device.type != "cpu":
        raise ValueError(f"backend='openvino' runs on the CPU, not {backend.device}")
    precision = precision or "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"backend='openvino' runs fp32 or bf16 (or dtype='auto'), not {precision!r}")
    if precision == "bf16" and not cpu_has_bf16():
        raise ValueError("backend='openvino' with bf16 needs a CPU with bf16 units (avx512_bf16 or AMX); use fp32")
    local = Path(folder) if folder is not None and Path(folder).is_dir() else None
    return OpenVINOBackend(backend, local, precision)


class _Layers(nn.Module):
    """The backbone over given input states: what is exported (positions counted from each input's first
    valid token, as :class:`JasperTCModel` counts them).

    The mask goes in as a 4-D additive one that transformers passes through as it is: padded positions
    attend to themselves, so that no row is wholly masked (a wholly masked row is NaN in OpenVINO's
    attention, and a NaN key spreads to every query of the next layer)."""

    def __init__(self, model: JasperTCModel) -> None:
        super().__init__()
        self.backbone, self.takes_positions = model.model, model._backbone_takes_positions
        self.caches, self.causal = model._backbone_caches, model.config.text_config.model_type in PACKABLE_BACKBONES

    def forward(self, inputs_embeds: Tensor, attention_mask: Tensor) -> Tensor:
        extra = {"use_cache": False} if self.caches else {}
        if self.takes_positions:
            extra["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        length = attention_mask.shape[1]
        allowed = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, L): keys
        if self.causal:
            allowed = allowed & torch.ones(length, length, dtype=torch.bool).tril()
        allowed = allowed | torch.eye(length, dtype=torch.bool)  # (B, 1, L, L)
        additive = torch.zeros(allowed.shape, dtype=inputs_embeds.dtype).masked_fill(
            ~allowed, torch.finfo(inputs_embeds.dtype).min
        )
        return self.backbone(inputs_embeds=inputs_embeds, attention_mask=additive, **extra).last_hidden_state


def _fingerprint(model: JasperTCModel) -> str:
    """What the cached export must match: the backbone's config and its weights' size and a sample of them."""
    shape = {k: v for k, v in model.config.text_config.to_dict().items() if k not in ("dtype", "torch_dtype")}
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode())
    for name, param in list(model.model.named_parameters())[:: max(1, len(list(model.model.parameters())) // 8)]:
        digest.update(name.encode() + param.detach().float().flatten()[:256].numpy().tobytes())
    return digest.hexdigest()[:16]


def _converted(model: JasperTCModel, folder: Path | None):
    """The backbone as an OpenVINO model: read from ``folder/openvino`` when it was exported from these
    weights, else converted (and saved there when the folder can be written)."""
    import openvino as ov

    stamp = _fingerprint(model)
    cached = folder / CACHE / f"backbone-{stamp}.xml" if folder is not None else None
    if cached is not None and cached.is_file():
        return ov.Core().read_model(cached)
    hidden = model.config.text_config.hidden_size
    layers = _Layers(model).float().eval()
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[0, :3] = 0  # padding in the example, so that the mask's path is traced (an all-ones one is skipped)
    example = (torch.randn(2, 8, hidden), mask)
    shapes = [([-1, -1, hidden], ov.Type.f32), ([-1, -1], ov.Type.i64)]
    with torch.no_grad():
        converted = ov.convert_model(layers, example_input=example, input=shapes)
    if cached is not None:
        try:
            cached.parent.mkdir(exist_ok=True)
            ov.save_model(converted, cached, compress_to_fp16=False)  # the weights as they are
        except OSError:
            pass  # a read-only folder: converted again next time
    return converted


class OpenVINOBackend(JasperBackend):
    """:class:`JasperBackend` with the backbone's layers compiled by OpenVINO for the CPU."""

    def __init__(self, backend: JasperBackend, folder: Path | None, precision: str = "fp32") -> None:
        import openvino as ov

        if backend.model.pools_inside():
            raise ValueError("backend='openvino' runs models that pool before the backbone (compress_after_layer 0)")
        self.__dict__.update(backend.__dict__)
        self.backend_name, self.precision, self.folder = "openvino", precision, folder
        hint = {"bf16": "bf16", "fp32": "f32"}[precision]
        settings = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = ov.Core().compile_model(_converted(self.model.float(), folder), "CPU", settings)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @torch.inference_mode()
    def embed(self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor) -> Tensor:
        model = self.model
        hidden = model.input_states(input_ids)  # (B, L, H)
        if bool((torch.as_tensor(compression_ratio) < 1.0).any()):
            hidden, attention_mask = model.pool(hidden, attention_mask, compression_ratio)  # (B, T, H), (B, T)
        return model._head(mean_pool(self._layers(hidden, attention_mask), attention_mask))

    @torch.inference_mode()
    def embed_spans(
        self, input_ids: Tensor, attention_mask: Tensor, compression_ratio: float | Tensor, span: int
    ) -> tuple[Tensor, Tensor]:
        return self.model.span_embeddings(input_ids, attention_mask, compression_ratio, span, backbone=self._layers)

    def _layers(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        """The compiled layers: ``(B, T, H)`` last-layer states, zeros at padding."""
        states = torch.from_numpy(self.compiled([hidden.float().numpy(), attention_mask.long().numpy()])[0])
        return states.masked_fill(~attention_mask.bool()[..., None], 0.0)  # padded rows of a causal mask are NaN
