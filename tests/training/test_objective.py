"""One optimizer step's backward passes: gradient cache equals one big batch; what accumulation means."""

from __future__ import annotations

import time
from contextlib import nullcontext

import pytest
import torch

from jasper_tc import JasperTCConfig, JasperTCModel
from jasper_tc.training.config import LossConfig
from jasper_tc.training.objective import MicroBatch, distill_objective, run_step

from ..helpers import tiny_qwen3_config


class OneProcess:
    """The two accelerator methods ``run_step`` uses, for a single process."""

    def no_sync(self, model):
        return nullcontext()

    def backward(self, loss):
        loss.backward()


def make_model(attention_dropout: float = 0.0) -> JasperTCModel:
    torch.manual_seed(0)
    config = JasperTCConfig(text_config=tiny_qwen3_config(attention_dropout=attention_dropout), embedding_dim=24)
    config.use_jasper_mlp, config.length_threshold = True, 8
    model = JasperTCModel(config)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.2)
    return model.train()


def make_batch(rows: int, seed: int) -> MicroBatch:
    g = torch.Generator().manual_seed(seed)
    length = 40
    ids = torch.randint(1, 512, (rows, length), generator=g)
    lengths = torch.randint(5, length + 1, (rows,), generator=g)
    mask = (torch.arange(length) >= length - lengths[:, None]).long()  # left padding
    return MicroBatch(
        inputs={"texts": {"input_ids": ids * mask, "attention_mask": mask}},
        teacher={"texts": torch.randn(rows, 24, generator=g)},
    )


def join(batches: list[MicroBatch]) -> MicroBatch:
    return MicroBatch(
        inputs={
            "texts": {k: torch.cat([b.inputs["texts"][k] for b in batches]) for k in ("input_ids", "attention_mask")}
        },
        teacher={"texts": torch.cat([b.teacher["texts"] for b in batches])},
    )


def step(model, batches, loss: LossConfig, *, gradient_cache: bool, ratio: float = 0.5):
    model.zero_grad(set_to_none=True)
    result = run_step(
        OneProcess(), model, batches, distill_objective(loss), ratio, gradient_cache=gradient_cache,
        clock=time.perf_counter,
    )  # fmt: skip
    return result, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


GRAM = LossConfig(cosine=10, similarity=100)


def assert_same_gradients(got: dict, expected: dict) -> None:
    """Equal up to float32 summation order: within 1e-5 of each tensor's largest entry."""
    assert got.keys() == expected.keys() and len(expected) > 10
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-5 * grad.abs().max().item(), msg=name)


def test_gradient_cache_equals_one_big_batch():
    model = make_model()
    parts = [make_batch(2, seed) for seed in range(4)]
    cached, cached_grads = step(model, parts, GRAM, gradient_cache=True)
    whole, whole_grads = step(model, [join(parts)], GRAM, gradient_cache=False)
    assert cached.loss.item() == pytest.approx(whole.loss.item(), rel=1e-5)
    assert_same_gradients(cached_grads, whole_grads)


def test_without_cache_the_gram_loss_is_per_micro_batch_and_the_cosine_loss_is_not():
    model = make_model()
    parts = [make_batch(2, seed) for seed in range(4)]
    accumulated, _ = step(model, parts, GRAM, gradient_cache=False)
    whole, _ = step(model, [join(parts)], GRAM, gradient_cache=False)
    assert abs(accumulated.loss.item() - whole.loss.item()) > 1e-3  # 4 Gram matrices of 2x2 != one of 8x8
    per_micro = [step(model, [p], GRAM, gradient_cache=False)[0].loss.item() for p in parts]
    assert accumulated.loss.item() == pytest.approx(sum(per_micro) / 4, rel=1e-5)

    cosine = LossConfig(cosine=10)
    accumulated, accumulated_grads = step(model, parts, cosine, gradient_cache=False)
    whole, whole_grads = step(model, [join(parts)], cosine, gradient_cache=False)
    assert accumulated.loss.item() == pytest.approx(whole.loss.item(), rel=1e-5)
    assert_same_gradients(accumulated_grads, whole_grads)


def test_gradient_cache_replays_dropout():
    """With dropout on, the re-embedding pass must draw the same masks as the first pass."""
    model = make_model(attention_dropout=0.3)
    batch = [make_batch(4, 7)]
    torch.manual_seed(123)
    cached, cached_grads = step(model, batch, GRAM, gradient_cache=True)
    torch.manual_seed(123)
    plain, plain_grads = step(model, batch, GRAM, gradient_cache=False)
    assert cached.loss.item() == pytest.approx(plain.loss.item(), rel=1e-5)
    assert_same_gradients(cached_grads, plain_grads)
    torch.manual_seed(124)
    other, _ = step(model, batch, GRAM, gradient_cache=False)
    assert other.loss.item() != pytest.approx(plain.loss.item(), rel=1e-5)  # dropout really is on
