"""An mteb encoder around :class:`jasper_tc.Encoder`, with the release's MTEB configuration.

The release was evaluated with QZhou-Embedding's per-task instructions in the template
``"Instruct: {instruction}\\nQuery: "``, applied to both sides of symmetric tasks, at max length 1024
in bf16; mteb ships that instruction table with its entry for the release, and this adapter reuses
it. The compression ratio is part of the model's ``experiment_kwargs``, so mteb stores each ratio of
a sweep as a run of its own.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from ..encode import EncodeOptions, Encoder, load

__all__ = ["RELEASE_INSTRUCTION_TEMPLATE", "JasperMTEBModel", "release_prompts"]

RELEASE_INSTRUCTION_TEMPLATE = "Instruct: {instruction}\nQuery: "


def release_prompts() -> dict[str, str]:
    """The release's per-task instruction table, as mteb registers it for the release."""
    try:
        from mteb.models.model_implementations.jasper_models import jasper_token_compression_600m_prompts_dict
    except ImportError as error:  # pragma: no cover - depends on the installed mteb
        raise ImportError(
            "this mteb version has no instruction table for Jasper-Token-Compression-600M; pass prompts_dict= yourself"
        ) from error
    return dict(jasper_token_compression_600m_prompts_dict)


class JasperMTEBModel(AbsEncoder):
    """mteb's encoder protocol over a jasper_tc encoder; ``mteb.evaluate(JasperMTEBModel(path), tasks)``."""

    def __init__(
        self,
        model_name: str | os.PathLike | Encoder,
        revision: str | None = None,
        *,
        device: str | None = None,
        compression_ratio: float | None = None,
        dtype: str | None = "bf16",
        max_length: int | None = None,
        batch_size: int = 32,
        prompts_dict: dict[str, str] | None = None,
        instruction_template: str = RELEASE_INSTRUCTION_TEMPLATE,
        apply_instruction_to_passages: bool = True,
        **kwargs: Any,
    ) -> None:
        self.encoder = model_name if isinstance(model_name, Encoder) else load(model_name, device=device, dtype=dtype)
        # max_length None: the release's 1024, or the model's own limit if lower; beyond the limit is an error
        self.options = EncodeOptions(
            compression_ratio=compression_ratio,
            max_length=min(1024, self.encoder.max_length) if max_length is None else max_length,
            batch_size=batch_size,
        )
        self.max_length = self.encoder.check(self.options).cap
        self.prompts_dict = release_prompts() if prompts_dict is None else prompts_dict
        self.instruction_template = instruction_template
        self.apply_instruction_to_passages = apply_instruction_to_passages
        name = self.encoder.backend.name if isinstance(model_name, Encoder) else str(model_name)
        self.mteb_model_meta = ModelMeta.create_empty(
            overwrites={
                "name": _meta_name(name),
                "revision": revision or "local",
                "embed_dim": self.encoder.dimension,
                "max_tokens": self.max_length,
                "similarity_fn_name": ScoringFunction.COSINE,
                "use_instructions": True,
                "framework": ["PyTorch", "Sentence Transformers"],
                "experiment_kwargs": {
                    "compression_ratio": self.encoder.backend.default_ratio
                    if compression_ratio is None
                    else compression_ratio
                },
            }
        )

    def encode(
        self,
        inputs,
        *,
        task_metadata,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        instruction = self.get_task_instruction(task_metadata, prompt_type)
        if prompt_type == PromptType.document and not self.apply_instruction_to_passages:
            instruction = ""
        texts = [text for batch in inputs for text in batch["text"]]
        return self.encoder.encode(
            texts,
            self.options,
            prompt=instruction or None,
            batch_size=kwargs.get("batch_size", self.options.batch_size),
            show_progress_bar=kwargs.get("show_progress_bar"),
        )


def _meta_name(name: str) -> str:
    """mteb wants ``owner/name``; local folders become ``local/<folder name>``."""
    if os.path.exists(name):
        return f"local/{os.path.basename(os.path.normpath(name))}"
    return name if "/" in name else f"local/{name}"
