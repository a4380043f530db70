"""Training trusts only what it verified: a damaged teacher store is named before a step reads it, a damaged
checkpoint is named and the one before it used, and a weight file cut short is named at load."""

from __future__ import annotations

import shutil

import pytest
import torch

import jasper_tc
from jasper_tc.configs import ConfigError
from jasper_tc.model.weights import DamagedWeights
from jasper_tc.store import StoreError
from jasper_tc.training.checkpoints import list_checkpoints

from ..faults import FAULTS, inject
from .test_train import resumable, run, weights


@pytest.fixture(scope="module")
def whole_run(tiny_world, tmp_path_factory) -> dict[str, torch.Tensor]:
    """The weights of the resumable run never stopped."""
    return weights(run(resumable(tiny_world, tmp_path_factory.mktemp("whole") / "run")).model)


def test_a_damaged_teacher_store_is_named_before_training_reads_it(tiny_world, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(tiny_world.store, store)
    inject(store / "shard-000001.npy", "flip")
    config = tiny_world.config(tmp_path / "run", steps=1)
    config["data"]["teacher_store"] = str(store)
    with pytest.raises(StoreError, match=r"shard-000001.npy does not match its checksum"):
        run(config)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained on it
    assert run(config, verify_store=False).model is not None  # --no-verify: the user takes the risk knowingly


@pytest.mark.parametrize("fault", FAULTS)
def test_a_damaged_checkpoint_is_named_and_the_one_before_it_resumes(tiny_world, tmp_path, whole_run, capsys, fault):
    config = resumable(tiny_world, tmp_path / "run")  # checkpoints every 2 steps, the last 2 kept
    assert run(config, on_step=lambda step: step == 4).stopped
    _, (_, latest) = list_checkpoints(tmp_path / "run")
    inject(latest / "model.safetensors", fault)
    capsys.readouterr()
    result = run(config, resume=True)
    said = capsys.readouterr().err
    assert f"checkpoint {latest} is damaged (model.safetensors" in said and "trying the one before" in said
    assert all(torch.equal(weights(result.model)[name], whole_run[name]) for name in whole_run)  # as if never stopped


def test_no_sound_checkpoint_left_stops_with_its_name(tiny_world, tmp_path):
    config = tiny_world.config(tmp_path / "run", steps=4, checkpoint={"every": 2, "keep_last": 1})
    run(config, on_step=lambda step: step == 2)
    ((_, only),) = list_checkpoints(tmp_path / "run")
    inject(only / "optimizer.bin", "truncate")
    expected = rf"(?s)no sound checkpoint is left:.*{only.name}: optimizer.bin has \d+ bytes"
    with pytest.raises(ConfigError, match=expected):
        run(config, resume=True)


def test_a_model_folder_with_a_weight_file_cut_short_is_named(tiny_qwen3_checkpoint, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_qwen3_checkpoint, folder)
    inject(folder / "model.safetensors", "truncate")
    with pytest.raises(DamagedWeights, match=r"model/model.safetensors is damaged \(\d+ bytes, but its header"):
        jasper_tc.load(folder, device="cpu")
