"""The loop as users launch it: two gloo processes equal one process, and Ctrl-C saves and resumes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from jasper_tc.configs import parse_config
from jasper_tc.training import TrainConfig, check_train_config, train

pytestmark = pytest.mark.slow


def launch(*args: str, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def losses(output: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (output / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("gradient_cache", "two", "one"),
    [(True, (2, 1), (2, 2)), (False, (2, 2), (4, 2))],
    ids=["gradient-cache", "accumulation"],
)
def test_two_processes_train_like_one_process_on_the_same_batches(tiny_world, tmp_path, gradient_cache, two, one):
    """Stage-4 losses (InfoNCE, soft, cosine, Gram) over documents gathered from both processes.

    With the gradient cache, 2 processes x 2 queries equal 1 process x 2 queries x accumulation 2 (the
    whole step is one batch). Without it, each micro-batch gathered over 2 processes x 2 queries equals
    a 1-process micro-batch of 4; both accumulate 2 micro-batches (the non-final ones under no_sync)."""

    def config(output: Path, batch_size: int, accumulation: int) -> dict:
        return tiny_world.config(
            output,
            start={"insert_jasper_mlp": True},
            data={"corpus": None, "triples": tiny_world.triples, "teacher_store": tiny_world.triple_store},
            loss={"info_nce": 1, "soft_distillation": 16, "cosine": 10, "similarity": 100},
            compression={"schedule": "fixed", "ratio": 0.5},
            optimizer={"lr": 1e-3, "eps": 1e-3},  # a large eps keeps Adam's update smooth in tiny gradients
            batch_size=batch_size,
            accumulation=accumulation,
            gradient_cache=gradient_cache,
            disable_dropout=True,
            steps=3,
        )

    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path / "two", *two)))
    port = str(free_port())
    process = launch(
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
        "-m", "jasper_tc", "train", str(path), cwd=tmp_path,
    )  # fmt: skip
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out.decode()[-3000:]

    single = train(check_train_config(parse_config(TrainConfig, config(tmp_path / "one", *one)), "one"))
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "one"), rel=1e-5)
    two_weights = load_file(tmp_path / "two" / "model" / "model.safetensors")
    for name, value in load_file(single.model / "model.safetensors").items():
        torch.testing.assert_close(two_weights[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tiny_world, tmp_path):
    path = tmp_path / "stage.yaml"
    path.write_text(yaml.safe_dump(tiny_world.config(tmp_path / "run", steps=60, checkpoint={"every": 1000})))
    command = (sys.executable, "-m", "jasper_tc", "train", str(path))
    process = launch(*command, cwd=tmp_path)
    log = tmp_path / "run" / "log.jsonl"
    deadline = time.monotonic() + 300
    while not (log.is_file() and log.read_text().count("\n") >= 2):
        assert process.poll() is None and time.monotonic() < deadline, "training did not start"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 130, out.decode()[-3000:]
    assert "--resume" in out.decode()
    checkpoints = sorted((tmp_path / "run" / "checkpoints").glob("step-*"))
    stopped_at = json.loads((checkpoints[-1] / "state.json").read_text())["step"]
    assert 2 <= stopped_at < 60 and not (tmp_path / "run" / "model").exists()

    resumed = launch(*command, "--resume", cwd=tmp_path)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out.decode()[-3000:]
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == list(range(1, 61))
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_two_processes_in_mixed_precision_auto_share_rank_0s_choice(tiny_world, tmp_path):
    """Under several processes the probe runs on rank 0 and its choice is broadcast: the launch trains,
    says once what it picked, and records it."""
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(tiny_world.config(tmp_path / "auto", mixed_precision="auto", steps=2, batch_size=2)))
    process = launch(
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        "-m", "jasper_tc", "train", str(path), cwd=tmp_path,
    )  # fmt: skip
    out, _ = process.communicate(timeout=600)
    said = out.decode()
    assert process.returncode == 0, said[-3000:]
    assert said.count("mixed_precision auto:") == 1
    recorded = json.loads((tmp_path / "auto" / "precision.json").read_text())
    assert recorded["mixed_precision"] in ("no", "bf16") and "probe layer" in recorded["reason"]
    assert (tmp_path / "auto" / "model" / "model.safetensors").is_file()
