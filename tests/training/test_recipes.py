"""The CPU-scale recipe as shipped (configs/minilm-cpu/): teacher store, mined triples, four stages,
two steps each on a slice of the shipped sample, with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import yaml

import jasper_tc
from jasper_tc.configs import apply_overrides, parse_config
from jasper_tc.teachers import load_teach_config, teach
from jasper_tc.teachers.negatives import mine_negatives
from jasper_tc.training import TrainConfig, check_train_config, train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "configs" / "minilm-cpu"


def first_lines(source: Path, target: Path, count: int) -> Path:
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        target.write_text("".join(next(handle) for _ in range(count)), encoding="utf-8")
    return target


def test_the_cpu_recipe_runs_end_to_end(tmp_path):
    corpus = first_lines(ROOT / "data/quickstart/paragraphs.jsonl.gz", tmp_path / "paragraphs.jsonl", 48)
    pairs = first_lines(ROOT / "data/quickstart/pairs.jsonl.gz", tmp_path / "pairs.jsonl", 16)
    teach(load_teach_config(RECIPE / "teach.yaml", [f"corpus.path={corpus}", f"output={tmp_path / 'teachers'}"]))
    teacher = jasper_tc.load("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    mine_negatives(teacher, pairs, corpus, tmp_path / "triples.jsonl", k=3)
    teach(
        load_teach_config(
            RECIPE / "teach-triples.yaml",
            [f"corpus.path={tmp_path / 'triples.jsonl'}", f"output={tmp_path / 'teachers-triples'}"],
        )
    )
    previous = None
    for stage in ("stage1", "stage2", "stage3", "stage4"):
        data = yaml.safe_load((RECIPE / f"{stage}.yaml").read_text())
        data.pop("epochs", None)
        overrides = [
            f"output={tmp_path / stage}",
            "steps=2",
            "batch_size=4",
            "data.max_length=128",
            "tensorboard=false",
        ]
        if stage == "stage4":
            overrides += [
                f"data.triples={tmp_path / 'triples.jsonl'}",
                f"data.teacher_store={tmp_path}/teachers-triples/fused",
            ]
        else:
            overrides += [f"data.corpus.path={corpus}", f"data.teacher_store={tmp_path}/teachers/fused"]
        if previous is not None:
            overrides.append(f"start.checkpoint={previous}")
        config = check_train_config(parse_config(TrainConfig, apply_overrides(data, overrides)), stage)
        previous = train(config).model
    student = jasper_tc.load(previous, device="cpu")
    layers = student.backend.model.config.text_config.num_hidden_layers
    assert student.dimension == 384 and layers == 6  # the whole MiniLM
    assert student.encode(["a title", "a paragraph " * 100], compression_ratio=0.33).shape == (2, 384)
