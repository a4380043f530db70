"""backend="openvino": the transformer compiled by OpenVINO, everything else as in torch, the export cached."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import jasper_tc

TEXTS = [("token compression " * n).strip() for n in (3, 40, 90, 150)]  # short, and past the 80-token threshold


@pytest.mark.parametrize("ratio", [1.0, 0.33])
def test_openvino_gives_torch_embeddings_on_qwen3_and_caches_its_export(tiny_qwen3_checkpoint, ratio):
    torch_vectors = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="fp32").encode(
        TEXTS, compression_ratio=ratio
    )
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", backend="openvino")
    assert encoder.precision == "openvino fp32"
    vectors = encoder.encode(TEXTS, compression_ratio=ratio)
    assert float((vectors * torch_vectors).sum(-1).min()) > 0.9999
    exported = sorted((p.name, p.stat().st_mtime_ns) for p in (encoder.backend.folder / "openvino").iterdir())
    assert [name.rsplit(".", 1)[1] for name, _ in exported] == ["bin", "xml"]
    again = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", backend="openvino")  # read from the cache
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (again.backend.folder / "openvino").iterdir()) == exported
    np.testing.assert_allclose(again.encode(TEXTS, compression_ratio=ratio), vectors, atol=1e-6)


@pytest.mark.slow
def test_openvino_on_a_bert_student_and_auto_says_what_it_picked(minilm_path, tmp_path):
    from jasper_tc import build_student

    model, tokenizer = build_student(minilm_path, 384, num_layers=2, with_jasper_mlp=True, mlp_init="residual")
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    reference = jasper_tc.load(tmp_path, device="cpu", dtype="fp32").encode(TEXTS, compression_ratio=0.5)
    chosen = jasper_tc.load(tmp_path, device="cpu", backend="auto")
    probe = chosen.precision_probe
    assert {"fp32", "openvino fp32"} <= set(probe.texts_per_s) and chosen.precision == probe.choice
    assert probe.min_cosine[probe.choice] >= 0.999 and "picked" in probe.summary()
    vectors = chosen.encode(TEXTS, compression_ratio=0.5)
    assert float((vectors * reference).sum(-1).min()) > 0.999


def test_what_openvino_cannot_run_is_named(minilm_path, tiny_qwen3_checkpoint):
    with pytest.raises(ValueError, match="backend must be one of torch, openvino, auto, got 'onnx'"):
        jasper_tc.load(tiny_qwen3_checkpoint, backend="onnx")
    with pytest.raises(ValueError, match="sentence-transformers' own backend='openvino'"):
        jasper_tc.load(minilm_path, device="cpu", backend="openvino")
    with pytest.raises(ValueError, match="runs fp32 or bf16"):
        jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", backend="openvino", dtype="int8")
    with pytest.raises(ValueError, match="backend='auto' chooses the precision too"):
        jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", backend="auto", dtype="bf16")


def test_the_encode_command_takes_the_backend(tiny_qwen3_checkpoint, tmp_path):
    from jasper_tc.cli import app

    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    outputs = {}
    for backend in ("torch", "openvino"):
        outputs[backend] = tmp_path / f"{backend}.npy"
        command = ["encode", "--model", tiny_qwen3_checkpoint, "--input", str(source)]
        command += ["--output", str(outputs[backend]), "--backend", backend, "--device", "cpu", "--dtype", "fp32"]
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
    same = (np.load(outputs["torch"]) * np.load(outputs["openvino"])).sum(-1)
    assert same.min() > 0.9999


def test_late_chunking_runs_on_the_compiled_layers(tiny_qwen3_checkpoint):
    settings = {"long_inputs": "fit", "token_budget": 100, "late_chunking": True, "return_segments": True}
    reference = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="fp32")
    reference.backend.max_length = 64  # windows of 64 tokens: several per text
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", backend="openvino")
    encoder.backend.max_length = 64
    expected, rows = reference.encode(TEXTS, **settings), encoder.encode(TEXTS, **settings)
    assert [len(r) for r in rows] == [len(r) for r in expected] and len(rows[-1]) > 1
    for got, want in zip(rows, expected):
        assert float((got * want).sum(-1).min()) > 0.9999
