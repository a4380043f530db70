"""The training loop: every stage of the recipe is this loop with another config.

One process or many (``accelerate launch``: DDP, FSDP through accelerate's config). Per optimizer
step: read the step's rows (a function of the step, see ``data``), tokenise, forward and backward
every micro-batch (``objective.run_step``), clip, step AdamW and the schedule, log, and now and then
checkpoint. Ctrl-C or SIGTERM finishes the current step, saves a checkpoint and exits; ``resume``
continues from the latest checkpoint and ends with the same weights as a run never stopped.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from ..atomic import atomic_write_bytes
from ..configs import ConfigError
from .checkpoints import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint, write_model_folder
from .config import TrainConfig, ratio_schedule
from .data import DistillData, StepSampler, TripleData, load_data
from .objective import MicroBatch, distill_objective, run_step, triple_objective
from .runlog import RunLog
from .start import build_start

__all__ = ["TrainResult", "train"]

MODEL_FOLDER = "model"


@dataclass(frozen=True)
class TrainResult:
    model: Path | None  # the stage's output model (None when stopped early)
    step: int  # optimizer steps done
    total_steps: int
    stopped: bool  # stopped on request before the end (resume to continue)


class _StopRequests:
    """Ctrl-C / SIGTERM ask the loop to stop after the current step; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    @contextmanager
    def installed(self):
        try:
            previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no signal handling
            yield self
            return
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _tokenize(tokenizer, texts: list[str], prefix: str, max_length: int, device) -> dict[str, torch.Tensor]:
    encoded = tokenizer(
        [prefix + text for text in texts], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {"input_ids": encoded["input_ids"].to(device), "attention_mask": encoded["attention_mask"].to(device)}


def _micro_batch(data, indices: np.ndarray, tokenizer, config: TrainConfig, prompts: dict, device) -> MicroBatch:
    batch = data.batch(indices)
    length = config.data.max_length

    def prompt(name):
        return prompts.get(name, "") if name else ""

    def vectors(array):
        return torch.from_numpy(np.ascontiguousarray(array)).to(device)

    if isinstance(data, TripleData):
        return MicroBatch(
            inputs={
                "queries": _tokenize(tokenizer, batch.queries, prompt(config.data.query_prompt_name), length, device),
                "documents": _tokenize(
                    tokenizer, batch.documents, prompt(config.data.document_prompt_name), length, device
                ),
            },
            teacher={"queries": vectors(batch.teacher_queries), "documents": vectors(batch.teacher_documents)},
        )
    return MicroBatch(
        inputs={"texts": _tokenize(tokenizer, batch.texts, "", length, device)},
        teacher={"texts": vectors(batch.teacher)},
    )


def _optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and norm weights (one-dimensional parameters)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    o = config.optimizer
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": o.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=o.lr,
        betas=tuple(o.betas),
        eps=o.eps,
    )


def _save_model(accelerator, model, tokenizer, output: Path) -> Path:
    """The stage's output: a jasper-tc checkpoint (also a sentence-transformers folder), written atomically."""
    final = output / MODEL_FOLDER
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        write_model_folder(accelerator.unwrap_model(model), tokenizer, final, state_dict)
    accelerator.wait_for_everyone()
    return final


def _check_launch(accelerator, config: TrainConfig, source: str) -> None:
    """What this loop cannot do under the launch it got, said before any model loads."""
    from accelerate.utils import DistributedType

    problems = []
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        problems.append(
            "DeepSpeed is not supported by this loop (it steps the engine per micro-batch); use DDP or FSDP"
        )
    if accelerator.gradient_accumulation_steps != 1:
        problems.append(
            f"accelerate's gradient accumulation is set to {accelerator.gradient_accumulation_steps} (from the "
            "launch config or ACCELERATE_GRADIENT_ACCUMULATION_STEPS); set it to 1 and use the config's accumulation"
        )
    rows = accelerator.num_processes * config.batch_size * (config.accumulation if config.gradient_cache else 1)
    if config.loss.similarity > 0 and rows < 2:
        problems.append(
            "loss.similarity: a Gram matrix over 1 row is always equal to the teacher's; use batch_size >= 2 "
            "(or gradient_cache with accumulation >= 2)"
        )
    if problems:
        raise ConfigError(source, problems)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    source: str = "config",
    on_step: Callable[[int], bool | None] | None = None,
) -> TrainResult:
    """Run one stage. ``on_step(step)`` is called after each optimizer step; returning True stops like Ctrl-C."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    output = Path(config.output)
    # accelerate keeps one state per process; stages run one after another in a process (the quickstart,
    # a notebook) may differ in precision, so start each from a fresh state (the process group is kept).
    AcceleratorState._reset_state()
    # cpu=True where there is no GPU: accelerate only forms a multi-process CPU (gloo) group when told so.
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    if not resume and list_checkpoints(output):
        raise ConfigError(
            source, [f"output: {output} has checkpoints of an earlier run; pass --resume or another output"]
        )
    _check_launch(accelerator, config, source)
    set_seed(config.seed)
    model, tokenizer = build_start(config, source)
    with accelerator.main_process_first():  # rank 0 builds the text cache; the others then read it
        data: DistillData | TripleData = load_data(config, model.config.embedding_dim)
    sampler = StepSampler(len(data), config.batch_size, config.accumulation, accelerator.num_processes, config.seed)
    total = sampler.total_steps(config.epochs, config.steps)
    schedule = ratio_schedule(config.compression)
    objective = (
        triple_objective(config.loss, config.data.negatives)
        if isinstance(data, TripleData)
        else distill_objective(config.loss)
    )
    if config.gradient_checkpointing:
        model.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # The model is wrapped first and the optimizer built on what the wrapper trains (FSDP's flat
    # parameters, with use_orig_params off, are not the module's own).
    model = accelerator.prepare(model)
    optimizer = accelerator.prepare(_optimizer(model, config))
    scheduler = get_scheduler(
        config.optimizer.schedule,
        optimizer,
        num_warmup_steps=round(config.optimizer.warmup * total),
        num_training_steps=total,
    )
    # The scheduler is stepped here once per optimizer step (accelerate's wrapper would step it once
    # per process); it is registered so that checkpoints hold it.
    accelerator.register_for_checkpointing(scheduler)

    step = 0
    if resume:  # rank 0 picks the checkpoint, so every process resumes from the same step
        found = [latest_checkpoint(output) if accelerator.is_main_process else None]
        if accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(found)
        if found[0] is not None:
            step = load_checkpoint(accelerator, found[0][1], config)
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(output / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False).encode())
    log = RunLog(output, main=accelerator.is_main_process, total=total, start=step, tensorboard=config.tensorboard)
    if isinstance(data, TripleData) and data.skipped:
        log.message(f"skipped {data.skipped} triple(s) with fewer than {config.data.negatives} negatives")
    log.message(
        f"{len(data)} rows, {sampler.steps_per_epoch} steps per epoch of {sampler.global_batch} rows; "
        f"steps {step}..{total}"
    )

    device = accelerator.device
    prompts = dict(accelerator.unwrap_model(model).config.prompts or {})
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def clock() -> float:
        sync()
        return time.perf_counter()

    stops = _StopRequests()
    stopped = False
    last_done = None
    with stops.installed():
        while step < total:
            began = clock()
            # The previous step's bookkeeping (collective, log, checkpoint) counts towards this step's "other".
            bookkeeping = began - last_done if last_done is not None else 0.0
            ratio = schedule.ratio(step)
            micro_batches = [
                _micro_batch(
                    data, sampler.indices(step, m, accelerator.process_index), tokenizer, config, prompts, device
                )
                for m in range(config.accumulation)
            ]
            loaded = clock()
            result = run_step(
                accelerator, model, micro_batches, objective, ratio, gradient_cache=config.gradient_cache, clock=clock
            )
            stepped = clock()
            grad_norm = (
                accelerator.clip_grad_norm_(model.parameters(), config.optimizer.max_grad_norm)
                if config.optimizer.max_grad_norm is not None
                else None
            )
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            done = last_done = clock()
            wants_stop = bool(on_step(step)) if on_step is not None else False
            # One collective per step: the loss terms, the token count and whether any process must stop.
            names = sorted(result.terms)
            local_tokens = sum(b.tokens for b in micro_batches)
            shared = torch.tensor(
                [
                    float(result.loss),
                    *(float(result.terms[n]) for n in names),
                    local_tokens,
                    stops.requested or wants_stop,
                ],
                device=device,
            )
            if accelerator.num_processes > 1:
                shared = accelerator.reduce(shared, reduction="sum")
                shared[: 1 + len(names)] /= accelerator.num_processes
            values = shared.tolist()
            seconds = done - began + bookkeeping
            record = {
                "step": step,
                "epoch": round(step / sampler.steps_per_epoch, 4),
                "loss": values[0],
                "terms": dict(zip(names, values[1 : 1 + len(names)])),
                "lr": lr,
                "ratio": ratio,
                "grad_norm": float(grad_norm) if grad_norm is not None else math.nan,
                "tokens": int(values[1 + len(names)]),
                "tokens_per_s": values[1 + len(names)] / seconds,
                "step_s": seconds,
                "seconds": {
                    "data": loaded - began,
                    "forward": result.forward_s,
                    "backward": result.backward_s,
                    "optimizer": done - stepped,
                    "other": max(
                        0.0, seconds - (loaded - began) - result.forward_s - result.backward_s - (done - stepped)
                    ),  # bookkeeping and whatever the sections above do not cover
                },
            }
            log.step(record, write=step % config.log_every == 0 or step == total)
            every = config.checkpoint.every
            if values[-1] > 0 and step < total:
                save_checkpoint(accelerator, output, step, config, config.checkpoint.keep_last)
                log.message(f"stopped at step {step}/{total}; continue with --resume")
                stopped = True
                break
            if every and step % every == 0 and step < total:
                save_checkpoint(accelerator, output, step, config, config.checkpoint.keep_last)
    if stopped:
        log.close()
        return TrainResult(None, step, total, True)
    save_checkpoint(accelerator, output, step, config, config.checkpoint.keep_last)
    folder = _save_model(accelerator, model, tokenizer, output)
    log.message(f"saved {folder}")
    log.close()
    return TrainResult(folder, step, total, False)
