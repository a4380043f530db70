"""The forward's precision: int8 linear layers, and dtype="auto" choosing by measurement on this machine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import jasper_tc
from jasper_tc.encode.precision import CPU_PRECISIONS, cpu_flags

TEXTS = ["a short query", "a somewhat longer sentence about rivers, mills and bridges " * 6, "a third text"]


def linear_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if type(m) is nn.Linear]


def test_int8_quantizes_every_linear_layer_and_stays_close(tiny_qwen3_checkpoint):
    full = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu")
    int8 = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="int8")
    assert (full.precision, int8.precision) == ("fp32", "int8")
    assert linear_layers(full.backend.model) and not linear_layers(int8.backend.model)
    for ratio in (1.0, 0.5):  # the compressor's MLP and the final linear layer are quantized too
        a = full.encode(TEXTS, compression_ratio=ratio)
        b = int8.encode(TEXTS, compression_ratio=ratio)
        cosine = np.sum(a * b, axis=1)
        assert cosine.min() > 0.95 and not np.allclose(a, b, atol=1e-6)


def test_auto_picks_the_fastest_precision_within_the_cosine_bound(tiny_qwen3_checkpoint):
    encoder = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="auto")
    probe = encoder.precision_probe
    assert encoder.precision == probe.choice
    assert set(probe.texts_per_s) <= set(CPU_PRECISIONS) and "fp32" in probe.texts_per_s
    assert probe.min_cosine["fp32"] == pytest.approx(1.0, abs=1e-5)
    allowed = {name: rate for name, rate in probe.texts_per_s.items() if probe.min_cosine[name] >= 0.999}
    assert probe.choice == max(allowed, key=allowed.get)
    assert probe.cpu_flags == cpu_flags() and probe.choice in probe.summary()
    embedding_dtype = encoder.backend.model.get_input_embeddings().weight.dtype
    assert embedding_dtype == {"bf16": torch.bfloat16}.get(probe.choice, torch.float32)
    reference = jasper_tc.load(tiny_qwen3_checkpoint, device="cpu").encode(TEXTS)
    assert np.sum(encoder.encode(TEXTS) * reference, axis=1).min() >= 0.999


def test_bad_precisions_are_named(tiny_qwen3_checkpoint):
    with pytest.raises(ValueError, match="unknown dtype 'int4'.*'int8', 'auto'"):
        jasper_tc.load(tiny_qwen3_checkpoint, device="cpu", dtype="int4")
    with pytest.raises(ValueError, match="dtype='int8' runs on CPU only"):
        jasper_tc.load(tiny_qwen3_checkpoint, device="cuda", dtype="int8")


def test_a_sharded_run_refuses_auto(tmp_path, tiny_qwen3_checkpoint):
    from typer.testing import CliRunner

    from jasper_tc.cli import app

    corpus = tmp_path / "texts.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    args = ["encode", "--model", tiny_qwen3_checkpoint, "--input", str(corpus), "--output", str(tmp_path / "out")]
    for choice in (["--dtype", "auto"], ["--backend", "auto"]):
        result = CliRunner().invoke(app, [*args, *choice])
        assert result.exit_code == 2 and "--dtype auto and --backend auto pick per machine" in result.output
