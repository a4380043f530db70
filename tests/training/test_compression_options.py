"""The pool's placement and form as stage settings: trained, saved in config.json, loaded both ways; and
the token-level term against a frozen teacher's pooled states."""

from __future__ import annotations

import json

import pytest
import torch

from .test_train import run


def test_a_stage_trains_a_pool_after_a_layer_with_a_scorer_and_the_token_term(tiny_world, tmp_path):
    from sentence_transformers import SentenceTransformer

    import jasper_tc

    config = tiny_world.config(
        tmp_path / "run",
        start={
            "compress_after_layer": 1,
            "compress_keep_ends": 1,
            "compress_pool": "scored",
            "default_compression_ratio": 0.5,
        },
        compression={"schedule": "fixed", "ratio": 0.4},
        loss={"cosine": 10, "token": 1},
        steps=3,
    )
    config["data"]["token_teacher"] = tiny_world.backbone
    result = run(config)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(0.0 <= record["terms"]["token"] < 2.0 for record in logged)  # 1 - cosine, mean over tokens
    saved = json.loads((result.model / "config.json").read_text())
    assert (saved["compress_after_layer"], saved["compress_keep_ends"], saved["compress_pool"]) == (1, 1, "scored")
    model = jasper_tc.JasperTCModel.from_pretrained(result.model)
    assert model.token_scorer is not None and model.token_scorer.weight.abs().sum() > 0  # the scorer trained
    texts = ["a short query", "a long document about compression and pooling " * 30]
    ours = jasper_tc.load(result.model, device="cpu")
    assert ours.backend.default_ratio == 0.5  # a model that learned compression compresses by default
    theirs = SentenceTransformer(str(result.model), device="cpu")
    assert torch.allclose(
        torch.as_tensor(ours.encode(texts, compression_ratio=0.3)),
        torch.as_tensor(theirs.encode(texts, compression_ratio=0.3)),
        atol=1e-5,
    )


def test_the_token_term_needs_its_teacher(tiny_world, tmp_path):
    from jasper_tc.configs import ConfigError

    with pytest.raises(ConfigError, match="loss.token: needs data.token_teacher"):
        run(tiny_world.config(tmp_path / "run", loss={"cosine": 10, "token": 1}, steps=1))


def test_a_stage_trains_windows_chosen_by_the_text_with_the_token_term(tiny_world, tmp_path):
    from sentence_transformers import SentenceTransformer

    import jasper_tc

    config = tiny_world.config(
        tmp_path / "run",
        start={"compress_keep_ends": 2, "compress_pool": "merge", "default_compression_ratio": 0.5},
        compression={"schedule": "fixed", "ratio": 0.3},
        loss={"cosine": 10, "token": 1},
        trainable=None,
        steps=2,
    )
    config["data"]["token_teacher"] = tiny_world.backbone
    result = run(config)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(0.0 <= record["terms"]["token"] < 2.0 for record in logged)
    saved = json.loads((result.model / "config.json").read_text())
    assert (saved["compress_pool"], saved["compress_keep_ends"]) == ("merge", 2)
    model = jasper_tc.JasperTCModel.from_pretrained(result.model)
    assert model.token_compressor.merge and model.token_compressor.keep_ends == 2
    texts = ["a short query", "a long document about compression and pooling " * 30]
    ours = jasper_tc.load(result.model, device="cpu")
    theirs = SentenceTransformer(str(result.model), device="cpu")
    assert torch.allclose(
        torch.as_tensor(ours.encode(texts, compression_ratio=0.3)),
        torch.as_tensor(theirs.encode(texts, compression_ratio=0.3)),
        atol=1e-5,
    )
    assert not torch.allclose(  # the pool acts: another ratio gives another document embedding
        torch.as_tensor(ours.encode(texts[1:], compression_ratio=0.3)),
        torch.as_tensor(ours.encode(texts[1:], compression_ratio=1.0)),
        atol=1e-3,
    )


def test_the_token_term_takes_a_text_chosen_pool_s_windows_from_the_student():
    from jasper_tc.model.compressor import TokenCompressor
    from jasper_tc.training.objective import TokenTarget

    with pytest.raises(ValueError, match="pass its groups"):
        TokenTarget(torch.nn.Identity(), 1.0, TokenCompressor(merge=True))
