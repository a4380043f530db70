"""The first losses of the tiny stage-3 and stage-4 configs, pinned: a silent change to the objective,
the data order, the ratio draws or the model's start fails here, loudly, before it reaches a real run.

If a change is meant to move these numbers, say so in its commit and record the new ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jasper_tc.configs import parse_config
from jasper_tc.training import TrainConfig, check_train_config, train


def first_steps(config: dict) -> tuple[list[float], list[float]]:
    """The losses and ratios of the first three steps."""
    result = train(check_train_config(parse_config(TrainConfig, config), "test"))
    records = [json.loads(line) for line in (Path(config["output"]) / "log.jsonl").read_text().splitlines()]
    assert result.step == 3
    return [r["loss"] for r in records], [r["ratio"] for r in records]


# (losses, ratios) of steps 1-3
STAGE3 = ([19.353052139282227, 33.41035461425781, 35.024070739746094], [0.5191146575706163, 0.33333, 0.33333])
STAGE4 = ([45.90734100341797, 81.79019927978516, 43.30392837524414], [0.5191146575706163, 0.33333, 0.33333])


def test_stage3_first_losses(tiny_world, tmp_path):
    config = tiny_world.config(
        tmp_path / "s3",
        start={"insert_jasper_mlp": True},
        loss={"cosine": 10, "similarity": 100},
        compression={"schedule": "algorithm2"},
        accumulation=2,
        gradient_cache=True,
        steps=3,
    )
    losses, ratios = first_steps(config)
    assert ratios == STAGE3[1]
    assert losses == pytest.approx(STAGE3[0], rel=1e-4)


def test_stage4_first_losses(tiny_world, tmp_path):
    config = tiny_world.config(
        tmp_path / "s4",
        start={"insert_jasper_mlp": True},
        data={"corpus": None, "triples": tiny_world.triples, "teacher_store": tiny_world.triple_store},
        loss={"info_nce": 1, "soft_distillation": 16, "cosine": 10},
        compression={"schedule": "algorithm2"},
        steps=3,
    )
    losses, ratios = first_steps(config)
    assert ratios == STAGE4[1]
    assert losses == pytest.approx(STAGE4[0], rel=1e-4)
