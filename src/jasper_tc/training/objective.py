"""A stage's weighted loss over a batch of student embeddings, and one optimizer step's backward passes.

**What the interacting losses see.** The similarity (Gram), InfoNCE and soft losses compare rows with
each other, so their value depends on which rows form "the batch":

* ``gradient_cache: false`` (default): each micro-batch, gathered across processes, is a batch: the
  Gram matrix is ``(world * batch_size)²`` and InfoNCE scores each query against the
  ``world * batch_size * (1 + K)`` documents of its micro-batch. Gradient accumulation then averages
  ``accumulation`` such losses. With the report's stage 3 (4 GPUs x 4 rows x accumulation 32) that is
  32 Gram matrices of 16 x 16, not one of 512 x 512; the cosine loss, being per row, is the same either way.
* ``gradient_cache: true``: the whole optimizer-step batch (``world * batch_size * accumulation`` rows)
  is one batch, exactly as if it fitted in memory at once. Each micro-batch is first embedded without
  a graph, the loss and its gradient with respect to every embedding are computed over the full
  batch, and each micro-batch is then embedded again with a graph (same dropout, by replaying the
  RNG) and back-propagated from its slice of that gradient (GradCache, Gao et al. 2021). Memory is
  one micro-batch's activations plus the embeddings; compute is one extra forward.

Under several processes every loss covers the local rows against the gathered global batch (see
``losses``), so the mean over processes is the loss of the concatenated batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..model import LENGTH_THRESHOLD, TokenCompressor, fit_ratio
from .config import LossConfig
from .distributed import gather, rank_and_world
from .losses import cosine_loss, info_nce_loss, mse_loss, similarity_loss, soft_distillation_loss, token_loss

__all__ = [
    "MicroBatch",
    "StepRatio",
    "StepResult",
    "TokenTarget",
    "accumulation_step",
    "distill_objective",
    "gradient_cache_step",
    "run_step",
    "triple_objective",
]

# name -> (total loss, {term: unweighted value}); student and teacher tensors keyed like the micro-batch.
Objective = Callable[[dict[str, Tensor], dict[str, Tensor]], tuple[Tensor, dict[str, Tensor]]]


@dataclass
class MicroBatch:
    """Tokenised inputs per part (``texts``, or ``queries`` and ``documents``) and their teacher vectors."""

    inputs: dict[str, dict[str, Tensor]]  # part -> {"input_ids", "attention_mask"}
    teacher: dict[str, Tensor]  # part -> (rows, D)

    @property
    def tokens(self) -> int:
        return sum(int(part["attention_mask"].sum()) for part in self.inputs.values())


def _weighted(config: LossConfig, terms: dict[str, Tensor]) -> Tensor:
    return sum(getattr(config, name) * value for name, value in terms.items())


def _row_terms(config: LossConfig, s: Tensor, t: Tensor) -> dict[str, Tensor]:
    """The terms that compare student rows with their own teacher rows: cosine, MSE, the Gram-matrix loss."""
    terms = {}
    if config.cosine:
        terms["cosine"] = cosine_loss(s, t)
    if config.mse:
        terms["mse"] = mse_loss(s, t)
    if config.similarity:
        terms["similarity"] = similarity_loss(s, t, gather(s), gather(t))
    return terms


def distill_objective(config: LossConfig) -> Objective:
    """Stages 1-3: cosine (and MSE) to each text's teacher vector, and the Gram-matrix similarity loss."""

    def objective(student: dict[str, Tensor], teacher: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        terms = _row_terms(config, student["texts"], teacher["texts"])
        return _weighted(config, terms), terms

    return objective


def triple_objective(config: LossConfig, negatives: int) -> Objective:
    """Stage 4: InfoNCE and soft distillation over all batch documents, plus cosine to the teacher."""

    def objective(student: dict[str, Tensor], teacher: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        q, d, tq, td = student["queries"], student["documents"], teacher["queries"], teacher["documents"]
        rank, _ = rank_and_world()
        terms = {}
        if config.info_nce or config.soft_distillation:
            d_all, td_all = gather(d), gather(td)
            if config.info_nce:
                positives = (torch.arange(len(q), device=q.device) + rank * len(q)) * (1 + negatives)
                terms["info_nce"] = info_nce_loss(q, d_all, positives, config.temperature)
            if config.soft_distillation:
                scores = F.normalize(q.float(), dim=-1) @ F.normalize(d_all.float(), dim=-1).T
                teacher_scores = F.normalize(tq.float(), dim=-1) @ F.normalize(td_all.float(), dim=-1).T
                terms["soft_distillation"] = soft_distillation_loss(scores, teacher_scores, config.alpha)
        if config.cosine or config.mse or config.similarity:
            terms |= _row_terms(config, torch.cat([q, d]), torch.cat([tq, td]))
        return _weighted(config, terms), terms

    return objective


@dataclass
class TokenTarget:
    """The ``token`` loss term: a frozen teacher's uncompressed last-layer token states, pooled by the student's
    own compressor (so by the windows its pool used), as the targets of the student's compressed token states."""

    teacher: torch.nn.Module
    weight: float
    compressor: TokenCompressor  # the student's: its threshold, padding side, kept ends and windows
    # The student's windows for given inputs (``JasperTCModel.input_groups``), where its text chooses them.
    groups: Callable[[Tensor, Tensor, float | Tensor], Tensor | None] | None = None

    def __post_init__(self) -> None:
        if self.compressor.merge and self.groups is None:
            raise ValueError("the student's windows are chosen by its text (compress_pool: merge): pass its groups")

    def term(self, inputs: dict[str, Tensor], ratio: float | Tensor, states: Tensor, mask: Tensor) -> Tensor:
        with torch.no_grad():
            _, full, full_mask = self.teacher(**inputs, compression_ratio=1.0, return_token_states=True)
            windows = self.groups(inputs["input_ids"], inputs["attention_mask"], ratio) if self.groups else None
            target, _ = self.compressor(full, full_mask, ratio, groups=windows)  # (B, T, H): the student's windows
        return token_loss(states, target.to(states.dtype), mask)


@dataclass
class StepResult:
    loss: Tensor  # the step's loss (detached), as this process computed it
    terms: dict[str, Tensor]
    forward_s: float
    backward_s: float


def _rng_state() -> tuple[Tensor, list[Tensor]]:
    return torch.get_rng_state(), (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])


def _set_rng_state(state: tuple[Tensor, list[Tensor]]) -> None:
    torch.set_rng_state(state[0])
    if state[1]:
        torch.cuda.set_rng_state_all(state[1])


def run_step(
    accelerator,
    model,
    micro_batches: Sequence[MicroBatch],
    objective: Objective,
    ratio: float,
    *,
    gradient_cache: bool,
    clock: Callable[[], float],
    token_target: TokenTarget | None = None,
) -> StepResult:
    """Forward and backward over one optimizer step's micro-batches (gradients left in ``.grad``)."""
    if gradient_cache:
        return gradient_cache_step(accelerator, model, micro_batches, objective, ratio, clock)
    return accumulation_step(accelerator, model, micro_batches, objective, ratio, clock, token_target)


@dataclass(frozen=True)
class StepRatio:
    """A step's ratio, lowered per input so that each fits ``positions`` (``compression.fit_positions``)."""

    value: float
    positions: int | None = None
    threshold: int = LENGTH_THRESHOLD

    def for_inputs(self, attention_mask: Tensor) -> float | Tensor:
        if self.positions is None:
            return self.value
        lengths = attention_mask.sum(dim=1).tolist()
        return torch.tensor([min(self.value, fit_ratio(n, self.positions, self.threshold)) for n in lengths])


def _ratios(ratio: float | StepRatio, inputs: dict[str, Tensor]) -> float | Tensor:
    return ratio.for_inputs(inputs["attention_mask"]) if isinstance(ratio, StepRatio) else ratio


def _embed(model, batch: MicroBatch, ratio: float | StepRatio) -> dict[str, Tensor]:
    return {part: model(**inputs, compression_ratio=_ratios(ratio, inputs)) for part, inputs in batch.inputs.items()}


def _embed_with_tokens(model, batch: MicroBatch, ratio, target: TokenTarget) -> tuple[dict[str, Tensor], Tensor]:
    """The embeddings, and the token term over every part (its mean)."""
    embedded, terms = {}, []
    for part, inputs in batch.inputs.items():
        part_ratio = _ratios(ratio, inputs)
        embedded[part], states, mask = model(**inputs, compression_ratio=part_ratio, return_token_states=True)
        terms.append(target.term(inputs, part_ratio, states, mask))
    return embedded, sum(terms) / len(terms)


def _sync_unless_last(accelerator, model, i: int, count: int):
    """Gradients are all-reduced once per step, after the last micro-batch's backward."""
    return nullcontext() if i == count - 1 else accelerator.no_sync(model)


def accumulation_step(accelerator, model, micro_batches, objective, ratio, clock, token_target=None) -> StepResult:
    """Each micro-batch is a batch of its own: its loss, backward, and the mean over micro-batches."""
    count = len(micro_batches)
    forward_s = backward_s = 0.0
    total, terms = 0.0, {}
    for i, batch in enumerate(micro_batches):
        with _sync_unless_last(accelerator, model, i, count):
            start = clock()
            if token_target is None:
                loss, parts = objective(_embed(model, batch, ratio), batch.teacher)
            else:
                embedded, token = _embed_with_tokens(model, batch, ratio, token_target)
                loss, parts = objective(embedded, batch.teacher)
                loss, parts = loss + token_target.weight * token, parts | {"token": token}
            middle = clock()
            accelerator.backward(loss / count)
            forward_s, backward_s = forward_s + middle - start, backward_s + clock() - middle
        total = total + loss.detach() / count
        for name, value in parts.items():
            terms[name] = terms.get(name, 0.0) + value.detach() / count
    return StepResult(total, terms, forward_s, backward_s)


def gradient_cache_step(accelerator, model, micro_batches, objective, ratio, clock) -> StepResult:
    """The whole step is one batch: 1) embed everything without a graph, 2) the loss and d loss / d
    embeddings over the whole step batch, 3) re-embed each micro-batch with a graph (same RNG, so the
    same dropout) and back-propagate its slice of that gradient."""
    start = clock()
    states, cached = [], []
    with torch.no_grad():
        for batch in micro_batches:
            states.append(_rng_state())
            cached.append(_embed(model, batch, ratio))
    parts = list(cached[0])
    # float32 leaves: their gradients are tiny (1/rows) and would lose precision in fp16/bf16
    leaves = {part: torch.cat([c[part] for c in cached]).detach().float().requires_grad_(True) for part in parts}
    teacher = {part: torch.cat([b.teacher[part] for b in micro_batches]) for part in parts}
    loss, terms = objective(leaves, teacher)
    forward_s = clock() - start
    start = clock()
    loss.backward()
    backward_s = clock() - start
    offsets = {part: 0 for part in parts}
    for i, batch in enumerate(micro_batches):
        with _sync_unless_last(accelerator, model, i, len(micro_batches)):
            start = clock()
            _set_rng_state(states[i])
            surrogate = 0.0
            for part, value in _embed(model, batch, ratio).items():
                grad = leaves[part].grad[offsets[part] : offsets[part] + len(value)]
                offsets[part] += len(value)
                surrogate = surrogate + (value.float() * grad.float()).sum()
            middle = clock()
            accelerator.backward(surrogate)
            forward_s, backward_s = forward_s + middle - start, backward_s + clock() - middle
    return StepResult(loss.detach(), {k: v.detach() for k, v in terms.items()}, forward_s, backward_s)
