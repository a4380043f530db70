"""The command line: encode to .npy and .parquet, clear errors before any model loads, train --check."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

import jasper_tc
from jasper_tc.cli import app

runner = CliRunner()


def test_encode_txt_to_npy_matches_the_python_api(tiny_qwen3_checkpoint, tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("first text\n\nsecond, somewhat longer text\nthird\n", encoding="utf-8")
    target = tmp_path / "out.npy"
    result = runner.invoke(
        app,
        [
            "encode",
            "--model",
            tiny_qwen3_checkpoint,
            "--input",
            str(source),
            "--output",
            str(target),
            "--compression-ratio",
            "0.5",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu").encode(
        ["first text", "second, somewhat longer text", "third"], compression_ratio=0.5
    )
    np.testing.assert_allclose(np.load(target), expected, atol=1e-6)
    assert not list(tmp_path.glob(".*partial"))


def test_encode_jsonl_to_parquet_keeps_ids_across_chunks(tiny_qwen3_checkpoint, tmp_path):
    from jasper_tc.encode.files import encode_file

    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"doc": f"d{i}", "body": f"text number {i}"}) + "\n" for i in range(7)))
    target = tmp_path / "out.parquet"
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    assert encode_file(encoder, source, target, text_field="body", id_field="doc", chunk_size=3) == 7
    table = pq.read_table(target)
    assert table.column("id").to_pylist() == [f"d{i}" for i in range(7)]
    vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(vectors, encoder.encode([f"text number {i}" for i in range(7)]), atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "out.csv"], "--output must end in .npy or .parquet"),
        (["--field", "body"], "line 1: no field 'body'"),
    ],
)
def test_encode_errors_come_before_the_model_loads(tmp_path, args, message):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "hello"}) + "\n")
    options = {"--output": str(tmp_path / "out.npy"), "--field": "text"}
    options.update(dict(zip(args[::2], args[1::2])))
    command = ["encode", "--model", str(tmp_path / "no-such-model"), "--input", str(source)]
    for key, value in options.items():
        command += [key, value]
    result = runner.invoke(app, command)
    assert result.exit_code == 2
    assert message in result.output


def test_train_check_prints_the_resolved_config_and_bad_configs_exit_2(tmp_path):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "configs" / "jasper-600m" / "stage3.yaml"
    # the shipped stage names files that only exist after the earlier stages ran: exit 2, naming them
    result = runner.invoke(app, ["train", str(shipped), "--check"])
    assert result.exit_code == 2
    assert "start.checkpoint: no such folder runs/jasper-600m/stage2/model" in result.output
    assert "data.teacher_store" in result.output

    config = yaml.safe_load(shipped.read_text())
    store = tmp_path / "store"
    store.mkdir()
    (store / "manifest.json").write_text(json.dumps({"dimension": 2048}))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": 1, "text": "x"}\n')
    config["start"] = {"backbone": "Qwen/Qwen3-Embedding-0.6B"}
    config["data"].update(teacher_store=str(store), corpus={"path": str(corpus), "id_field": "id"})
    path = tmp_path / "stage.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(path), "--check", "steps=10", "loss.similarity=50"])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.output)
    assert resolved["steps"] == 10 and resolved["loss"] == {
        "cosine": 10.0, "mse": 0.0, "similarity": 50.0, "info_nce": 0.0, "soft_distillation": 0.0, "token": 0.0,
        "temperature": 0.3, "alpha": 0.1,
    }  # fmt: skip

    result = runner.invoke(
        app, ["train", str(path), "--check", "batch_size=0", "optimizer.lr=-1", "start.embedding_dim=64"]
    )
    assert result.exit_code == 2
    for expected in ("batch_size: must be at least 1", "optimizer.lr: must be above 0", "embeds into 64 dims"):
        assert expected in result.output


def test_retime_asks_for_an_earlier_design_study(tmp_path):
    result = runner.invoke(app, ["compression-study", "--retime", "--output", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "--retime times the runs of an earlier design study" in result.output
