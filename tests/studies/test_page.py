"""The page states the facts of the run that the results record, and leaves out what they do not."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from jasper_tc.pages.claims import machine_words, per_step
from jasper_tc.studies import write_document
from jasper_tc.studies.reproduction import _stage_setup
from jasper_tc.training.config import DataConfig, LossConfig, StartConfig, TrainConfig

from ..test_reproduction import _results


def _page(results: dict, folder: Path) -> str:
    page = folder / "reproduction.md"
    write_document(results, page)
    return page.read_text()


def test_the_machine_and_the_batches_come_from_the_results(tmp_path):
    results = _results()
    results["machine"] = {"device": "cpu", "cpu_count": 4, "torch_threads": 3}
    results["study"]["speed_batch_size"] = 6
    results["stages"] = {
        "stage3": {"batch_size": 8, "accumulation": 3, "gradient_cache": True, "loss": {"cosine": 10, "similarity": 1}},
        "stage4": {"batch_size": 12, "accumulation": 1, "gradient_cache": False, "loss": {"info_nce": 1.0}},
    }
    assert machine_words(results) == "4 CPU cores (3 torch threads)"
    assert (per_step(results, "stage3"), per_step(results, "stage4")) == (24, 12)  # batch x accumulation
    text = _page(results, tmp_path)
    assert "2 CPU cores" not in text and "32 rows" not in text and "16 triples" not in text  # nothing assumed


def test_an_older_results_file_still_makes_the_page_and_says_nothing_it_lacks(tmp_path):
    results = json.loads((Path(__file__).parent / "data" / "reproduction-results-v1.json").read_text())
    assert not {"machine", "stages"} & set(results)  # written before the study recorded them
    assert machine_words(results) == "a CPU" and per_step(results, "stage3") is None
    text = _page(results, tmp_path)
    assert "CPU cores" not in text and "batches of" not in text and " rows," not in text
    for heading in ("## 1. Stage 2", "## 2. Dynamic-ratio", "## 3. Stage 4", "## 4. The student", "## Time per run"):
        assert heading in text
    for name in ("claims.png", "speed.png"):
        assert (tmp_path / "reproduction" / name).stat().st_size > 10_000


def test_the_runner_reads_the_batch_and_loss_from_a_run_config(tmp_path):
    config = TrainConfig(
        output=str(tmp_path),
        start=StartConfig(checkpoint="stage2/model"),
        data=DataConfig(teacher_store="teachers/fused"),
        loss=LossConfig(cosine=10, similarity=100),
        steps=5,
        batch_size=16,
        accumulation=2,
        gradient_cache=True,
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))  # as training does
    setup = _stage_setup(tmp_path)
    assert {key: setup[key] for key in ("batch_size", "accumulation", "gradient_cache", "loss", "lr")} == {
        "batch_size": 16,
        "accumulation": 2,
        "gradient_cache": True,
        "loss": {"cosine": 10, "similarity": 100},
        "lr": 1e-4,
    }
    assert setup["mlp_init"] is None and setup["steps"] == 5  # a checkpoint start inserts no MLP
    assert _stage_setup(tmp_path / "missing") == {}
