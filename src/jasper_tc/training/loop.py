"""The training loop: every stage of the recipe is this loop with another config.

One process or many (``accelerate launch``: DDP, FSDP through accelerate's config). Per optimizer
step: read the step's rows (a function of the step, see ``data``), tokenise, forward and backward
every micro-batch (``objective.run_step``), clip, step AdamW and the schedule, log, and now and then
checkpoint. Ctrl-C or SIGTERM finishes the current step, saves a checkpoint and exits; ``resume``
continues from the latest checkpoint and ends with the same weights as a run never stopped.

What a step reads and which objective it is trained with are the data's (``data``: texts or triples);
how it is timed and what it logs, ``telemetry``.
"""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import yaml
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes, atomic_write_json
from ..configs import ConfigError
from .checkpoints import list_checkpoints, load_checkpoint, save_checkpoint, usable_checkpoint, write_model_folder
from .config import TrainConfig, ratio_schedule
from .data import StepSampler, TrainData, load_data
from .objective import MicroBatch, Objective, StepRatio, TokenTarget, run_step
from .parameters import param_groups
from .precision import PRECISION_RECORD, MixedPrecisionChoice, make_accelerator
from .runlog import RunLog
from .start import build_start, load_token_teacher
from .telemetry import StepClock, share, step_record

if TYPE_CHECKING:
    from accelerate import Accelerator
    from torch.optim.lr_scheduler import LRScheduler
    from transformers import PreTrainedTokenizerBase

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


def _optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, grouped by learning rate (``optimizer.lr_by_pattern``); no
    weight decay on biases and norm weights (one-dimensional parameters)."""
    o = config.optimizer
    groups = param_groups(model.named_parameters(), o.lr, o.weight_decay, o.lr_by_pattern)
    return torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas), eps=o.eps)


def _save_model(accelerator: Accelerator, model: torch.nn.Module, tokenizer, output: Path) -> Path:
    """The stage's output: a jasper-tc checkpoint (also a sentence-transformers folder), written atomically."""
    final = output / MODEL_FOLDER
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        write_model_folder(accelerator.unwrap_model(model), tokenizer, final, state_dict)
    accelerator.wait_for_everyone()
    return final


def _check_launch(accelerator: Accelerator, config: TrainConfig, source: str) -> None:
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


@dataclass
class _Run:
    """Everything one stage trains with, built once before the first step."""

    config: TrainConfig
    accelerator: Accelerator
    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    data: TrainData  # distillation texts or stage-4 triples; each kind makes its micro-batches and objective
    sampler: StepSampler
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler
    objective: Objective
    total: int
    prompts: dict[str, str]  # the model's prompts, name -> text
    token_target: TokenTarget | None = None  # the token-level term's frozen teacher, when the loss has one
    precision: MixedPrecisionChoice | None = None  # what it trains in, and why


def _read(run: _Run, step: int) -> list[MicroBatch]:
    """This process's micro-batches of ``step``: tokenised, with their teacher vectors, on its device."""
    device, length = run.accelerator.device, run.config.data.max_length

    def tokenize(texts: list[str], prefix: str) -> dict[str, torch.Tensor]:
        return _tokenize(run.tokenizer, texts, prefix, length, device)

    rank = run.accelerator.process_index
    return [
        run.data.micro_batch(run.sampler.indices(step, m, rank), tokenize, run.prompts, device)
        for m in range(run.config.accumulation)
    ]


def _prepare(config: TrainConfig, source: str, verify_store: bool = True) -> _Run:
    """Model, data, sampler, objective, optimizer and schedule of a stage, under this process's launch."""
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    accelerator, precision = make_accelerator(config.mixed_precision)
    _check_launch(accelerator, config, source)
    set_seed(config.seed)
    model, tokenizer = build_start(config, source)
    with accelerator.main_process_first():  # rank 0 builds the text cache; the others then read it
        data = load_data(config, model.config.embedding_dim, verify=verify_store)
    sampler = StepSampler(len(data), config.batch_size, config.accumulation, accelerator.num_processes, config.seed)
    total = sampler.total_steps(config.epochs, config.steps)
    objective = data.objective(config.loss)
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
    student = accelerator.unwrap_model(model)
    token_target = _token_target(config, student, accelerator.device) if config.loss.token > 0 else None
    prompts = dict(student.config.prompts or {})
    return _Run(
        config, accelerator, model, tokenizer, data, sampler, optimizer, scheduler, objective, total, prompts,
        token_target, precision,
    )  # fmt: skip


def _token_target(config: TrainConfig, student, device) -> TokenTarget:
    """The token-level term's teacher, frozen on this process's device, and the student's compressor."""
    teacher = load_token_teacher(config.data.token_teacher).to(device)
    return TokenTarget(teacher, config.loss.token, student.token_compressor, student.input_groups)


def _pick_checkpoint(output: Path) -> tuple[int, Path] | ConfigError | None:
    """Rank 0's choice: the latest sound checkpoint (damaged ones named on the way), or the error."""
    try:
        return usable_checkpoint(output, say=lambda text: tqdm.write(text, file=sys.stderr))
    except ConfigError as error:
        return error


def _resume_step(run: _Run, output: Path) -> int:
    """The step of the latest sound checkpoint, loaded; rank 0 picks it (and checks its files) so every
    process resumes from the same, or stops with the same error."""
    accelerator = run.accelerator
    found = [_pick_checkpoint(output) if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(found)
    if isinstance(found[0], ConfigError):
        raise found[0]
    return load_checkpoint(accelerator, found[0][1], run.config) if found[0] is not None else 0


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    source: str = "config",
    on_step: Callable[[int], bool | None] | None = None,
    verify_store: bool = True,
) -> TrainResult:
    """Run one stage. ``on_step(step)`` is called after each optimizer step; returning True stops like Ctrl-C.
    ``verify_store=False`` trusts the teacher store without checking its checksums (sizes are always checked)."""
    output = Path(config.output)
    if not resume and list_checkpoints(output):
        raise ConfigError(
            source, [f"output: {output} has checkpoints of an earlier run; pass --resume or another output"]
        )
    run = _prepare(config, source, verify_store)
    accelerator = run.accelerator
    step = _resume_step(run, output) if resume else 0
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(output / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False).encode())
        ran = {"mixed_precision": run.precision.setting, "reason": run.precision.reason}
        atomic_write_json(output / PRECISION_RECORD, ran)
    log = RunLog(output, main=accelerator.is_main_process, total=run.total, start=step, tensorboard=config.tensorboard)
    for note in run.data.notes():
        log.message(note)
    if config.mixed_precision == "auto":
        log.message(f"mixed_precision auto: {run.precision.setting} ({run.precision.reason})")
    log.message(
        f"{len(run.data)} rows, {run.sampler.steps_per_epoch} steps per epoch of {run.sampler.global_batch} rows; "
        f"steps {step}..{run.total}"
    )
    stopped = _loop(run, step, log, output, on_step)
    if stopped is not None:
        log.close()
        return TrainResult(None, stopped, run.total, True)
    save_checkpoint(accelerator, output, run.total, config, config.checkpoint.keep_last)
    folder = _save_model(accelerator, run.model, run.tokenizer, output)
    log.message(f"saved {folder}")
    log.close()
    return TrainResult(folder, run.total, run.total, False)


def _loop(run: _Run, step: int, log: RunLog, output: Path, on_step) -> int | None:
    """Optimizer steps from ``step`` to the end; the step it stopped at when asked to stop, else None."""
    config, accelerator, model = run.config, run.accelerator, run.model
    schedule = ratio_schedule(config.compression)
    threshold = accelerator.unwrap_model(model).config.length_threshold
    clock = StepClock(accelerator.device)
    stops = _StopRequests()
    with stops.installed():
        while step < run.total:
            # read
            began = clock()
            ratio = schedule.ratio(step)
            micro_batches = _read(run, step)
            loaded = clock()
            # forward and backward
            step_ratio = StepRatio(ratio, config.compression.fit_positions, threshold)
            result = run_step(
                accelerator, model, micro_batches, run.objective, step_ratio, gradient_cache=config.gradient_cache,
                clock=clock, token_target=run.token_target,
            )  # fmt: skip
            stepped = clock()
            # clip and step
            max_norm = config.optimizer.max_grad_norm
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_norm) if max_norm is not None else None
            lr = run.scheduler.get_last_lr()[0]
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            step += 1
            times = clock.times(began, loaded, stepped, clock())
            # log
            wants_stop = bool(on_step(step)) if on_step is not None else False
            shared = share(accelerator, result, sum(b.tokens for b in micro_batches), stops.requested or wants_stop)
            grad = float(grad_norm) if grad_norm is not None else math.nan
            record = step_record(
                step, run.sampler.steps_per_epoch, shared, result, times, lr=lr, ratio=ratio, grad_norm=grad
            )
            log.step(record, write=step % config.log_every == 0 or step == run.total)
            # save
            if shared.stop_requested and step < run.total:
                save_checkpoint(accelerator, output, step, config, config.checkpoint.keep_last)
                log.message(f"stopped at step {step}/{run.total}; continue with --resume")
                return step
            every = config.checkpoint.every
            if every and step % every == 0 and step < run.total:
                save_checkpoint(accelerator, output, step, config, config.checkpoint.keep_last)
    return None
