"""A tiny world to train in: a random Qwen3 backbone with the real tokenizer, a teacher store over 64
real paragraphs, stage-4 triples and their teacher store."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from ..helpers import QWEN3_TOKENIZER, SHARED, tiny_qwen3_config


@dataclass(frozen=True)
class TinyWorld:
    root: Path
    backbone: str  # a plain transformers Qwen3 folder (attention dropout 0.1, so RNG matters)
    corpus: str
    store: str  # fused teacher store of the corpus, 32-d
    triples: str
    triple_store: str

    def config(self, output: Path, **changes) -> dict:
        """A stage-1 config over this world; ``changes`` are merged into it (nested dicts merged)."""
        config = {
            "output": str(output),
            "start": {"backbone": self.backbone, "embedding_dim": 32, "length_threshold": 16},
            "data": {
                "teacher_store": self.store,
                "corpus": {"path": self.corpus, "id_field": "id"},
                "max_length": 96,
            },
            "loss": {"cosine": 10},
            "optimizer": {"lr": 1e-3},
            "steps": 4,
            "batch_size": 4,
            "tensorboard": False,
        }
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            elif value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return config


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> TinyWorld:
    from transformers import AutoTokenizer, Qwen3Model

    from jasper_tc import JasperTCConfig, JasperTCModel
    from jasper_tc.teachers import load_teach_config, teach

    root = tmp_path_factory.mktemp("tiny-world")
    tokenizer = AutoTokenizer.from_pretrained(QWEN3_TOKENIZER)
    torch.manual_seed(0)
    backbone = Qwen3Model(tiny_qwen3_config(vocab_size=len(tokenizer), attention_dropout=0.1))
    backbone.save_pretrained(root / "backbone")
    tokenizer.save_pretrained(root / "backbone")
    teacher = JasperTCModel(JasperTCConfig(text_config=tiny_qwen3_config(vocab_size=len(tokenizer)), embedding_dim=32))
    with torch.no_grad():
        for param in teacher.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.2)
    teacher.save_pretrained(root / "teacher", tokenizer=tokenizer)

    with gzip.open(SHARED / "data/unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", "rt") as source:
        rows = [json.loads(next(source)) for _ in range(64)]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
    triples = root / "triples.jsonl"
    triples.write_text(
        "".join(
            json.dumps(
                {
                    "query": r["title"] + f" ({i})",
                    "positive": r["text"],
                    "negatives": [rows[(i + j) % 64]["text"] for j in (5, 9, 13)],
                }
            )
            + "\n"
            for i, r in enumerate(rows[:32])
        )
    )
    for name, corpus_config in (
        ("teach", {"path": str(corpus), "id_field": "id"}),
        ("teach-triples", {"path": str(triples), "format": "triples"}),
    ):
        config = {
            "corpus": corpus_config,
            "output": str(root / name),
            "shard_rows": 32,
            "teachers": [{"name": "tiny", "model": str(root / "teacher"), "encode": {"max_length": 96}}],
            "fusion": {"projections": {"tiny": "identity"}},
        }
        (root / f"{name}.yaml").write_text(yaml.safe_dump(config))
        teach(load_teach_config(root / f"{name}.yaml"))
    return TinyWorld(
        root=root,
        backbone=str(root / "backbone"),
        corpus=str(corpus),
        store=str(root / "teach" / "fused"),
        triples=str(triples),
        triple_store=str(root / "teach-triples" / "fused"),
    )
