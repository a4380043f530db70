"""The recipes' shared layer: one stage runner (a stop raises, a finished stage is kept, the recipe's own keys
are not overridable) and one evaluation (kept while it describes the same model and settings)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from jasper_tc.configs import ConfigError
from jasper_tc.recipes import Evaluation, StageStopped, check_scale, evaluate, ratios_text, run_stage, stage_config
from jasper_tc.resources import CONFIGS
from jasper_tc.training import TrainResult

TEMPLATE = CONFIGS / "adapt" / "dynamic.yaml"


def test_a_stopped_stage_raises_and_a_finished_one_is_kept(tmp_path, monkeypatch):
    import jasper_tc.recipes.stages as stages

    monkeypatch.setattr(stages, "stage_config", lambda *args, **kwargs: "config")
    monkeypatch.setattr(stages, "train", lambda config, resume: TrainResult(None, 3, 10, True))
    with pytest.raises(StageStopped, match=r"at step 3/10; run the same command again"):
        run_stage(TEMPLATE, {"output": tmp_path / "run"})

    (tmp_path / "done" / "model").mkdir(parents=True)
    (tmp_path / "done" / "model" / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(stages, "train", lambda config, resume: pytest.fail("a finished stage ran again"))
    assert run_stage(TEMPLATE, {"output": tmp_path / "done"}) == tmp_path / "done" / "model"


def test_stage_changes_are_typed_and_the_recipes_keys_are_not_overridable(tmp_path, tiny_qwen3_checkpoint):
    from jasper_tc.store import Manifest

    store = tmp_path / "store"
    store.mkdir()
    Manifest(name="fused", source={}, dimension=32, dtype="float32", corpus_fingerprint="x", rows=0, shard_rows=1).save(
        store
    )
    corpus = tmp_path / "texts.jsonl"
    corpus.write_text('{"id": "a", "text": "one"}\n')
    changes = {
        "output": tmp_path / "out",
        "start.checkpoint": Path(tiny_qwen3_checkpoint),
        "data.teacher_store": store,
        "data.corpus.path": corpus,
        "data.max_length": 128,
        "data.token_teacher": Path(tiny_qwen3_checkpoint),  # the recipe's token-level term targets it
    }
    config = stage_config(TEMPLATE, changes, ["steps=7"])
    assert (config.steps, config.data.max_length, config.output) == (7, 128, str(tmp_path / "out"))
    assert config.start.checkpoint == tiny_qwen3_checkpoint  # paths become strings, as a YAML file gives them
    with pytest.raises(ConfigError, match="data.max_length: set by the recipe itself"):
        stage_config(TEMPLATE, changes, ["data.max_length=64"])


def test_scales_and_ratios_are_spelled_once():
    assert check_scale("smoke") == "smoke"
    with pytest.raises(ValueError, match="--scale must be 'full' or 'smoke', got 'tiny'"):
        check_scale("tiny")
    assert ratios_text() == "1,0.5,0.33,0.2,0.1"


def test_a_kept_evaluation_is_read_back_until_the_model_changes(tmp_path, tiny_qwen3_checkpoint, monkeypatch):
    import torch

    import jasper_tc.evaluation.suite as suite
    from jasper_tc import JasperTCModel

    model = tmp_path / "model"
    shutil.copytree(tiny_qwen3_checkpoint, model)
    runs = []
    real = suite.run_suite
    monkeypatch.setattr(suite, "run_suite", lambda *args, **kwargs: runs.append(1) or real(*args, **kwargs))
    settings = Evaluation(tasks=("STSB-en",), ratios=(1.0,), limit=8, device="cpu")
    first = evaluate(model, "tiny", tmp_path / "eval", settings)
    assert evaluate(model, "tiny", tmp_path / "eval", settings) == first and len(runs) == 1

    evaluate(model, "tiny", tmp_path / "eval", Evaluation(tasks=("STSB-en",), ratios=(1.0,), limit=6, device="cpu"))
    assert len(runs) == 2  # other settings: measured again
    evaluate(model, "tiny", tmp_path / "eval", replace(settings, dtype="bf16"))
    assert len(runs) == 3  # another precision: measured again
    assert "dtype" not in settings.stamp()  # unset, it leaves the records kept before it existed valid

    changed = JasperTCModel.from_pretrained(model)
    with torch.no_grad():
        changed.linear_1.weight.mul_(-1.0)
    changed.save_pretrained(model)
    evaluate(model, "tiny", tmp_path / "eval", settings)
    assert len(runs) == 4  # the model was trained again: its old scores are not its own
