"""The sentence-transformers files of a checkpoint folder.

They use only sentence-transformers' own module classes, so ``SentenceTransformer(folder)`` needs no
``trust_remote_code``: its ``Transformer`` module calls ``JasperTCModel.forward`` (found through
``AutoModel`` once ``jasper_tc`` is imported), takes the returned tensor as the sentence embedding,
and passes ``encode(..., compression_ratio=r)`` through; ``Normalize`` follows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .config import JasperTCConfig

__all__ = ["write_sentence_transformers_files"]

_TRANSFORMER = "sentence_transformers.base.modules.transformer.Transformer"
_NORMALIZE = "sentence_transformers.base.modules.normalize.Normalize"


def _write_json(path: Path, content: object) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_sentence_transformers_files(folder: str | os.PathLike, config: JasperTCConfig) -> None:
    """Write ``modules.json``, the module configs and the prompts into ``folder``."""
    root = Path(folder)
    _write_json(
        root / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": _TRANSFORMER, "kwargs": ["compression_ratio"]},
            {"idx": 1, "name": "1", "path": "1_Normalize", "type": _NORMALIZE},
        ],
    )
    _write_json(
        root / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            # method_output_name None: forward's return value is the embedding itself.
            "modality_config": {"text": {"method": "forward", "method_output_name": None}},
            "module_output_name": "sentence_embedding",
        },
    )
    (root / "1_Normalize").mkdir(exist_ok=True)
    _write_json(
        root / "1_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    _write_json(
        root / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": dict(config.prompts or {}),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
