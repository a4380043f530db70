"""Stage-3 training steps on a Qwen3-0.6B-shaped Jasper-TC (random weights): tokens/s and peak memory.

The real step of the training loop (``objective.run_step``: Algorithm-2 ratio, 10 * cosine +
100 * similarity, AdamW, clipping) in bf16 autocast with gradient checkpointing, on synthetic token
ids of 300..1024 tokens and random 2048-d teacher vectors, so it needs no tokenizer, data or hub.
Meant for a GPU machine (``benchmarks/gpu_check.sh`` runs it); ``--tiny`` checks it on a CPU.

    python benchmarks/train_gpu.py [--batch-size 4] [--accumulation 4] [--steps 6] [--gradient-cache]
"""

from __future__ import annotations

import argparse
import json

import torch
from transformers import Qwen3Config

from _common import clock, device_name, qwen3_600m_config
from jasper_tc import JasperTCConfig, JasperTCModel
from jasper_tc.training.config import LossConfig
from jasper_tc.training.objective import MicroBatch, distill_objective, run_step
from jasper_tc.training.schedules import Algorithm2


def backbone(tiny: bool) -> Qwen3Config:
    """The 600M shape, or (``--tiny``) a 2-layer model of the same kind small enough for a CPU."""
    if tiny:
        return Qwen3Config(vocab_size=1000, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16)  # fmt: skip
    return qwen3_600m_config()


def synthetic_batch(rows: int, length: int, vocab: int, device, generator) -> MicroBatch:
    lengths = torch.randint(300 if length >= 1024 else length // 2, length + 1, (rows,), generator=generator)
    ids = torch.randint(1, vocab, (rows, length), generator=generator)
    mask = (torch.arange(length) >= length - lengths[:, None]).long()  # left padding, as the tokenizer does
    return MicroBatch(
        inputs={"texts": {"input_ids": (ids * mask).to(device), "attention_mask": mask.to(device)}},
        teacher={"texts": torch.randn(rows, 2048, generator=generator).to(device)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--gradient-cache", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model on the CPU, to check the script")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    from accelerate import Accelerator

    cuda = torch.cuda.is_available() and not args.tiny
    accelerator = Accelerator(mixed_precision="bf16" if cuda else "no", cpu=not cuda)
    config = JasperTCConfig(text_config=backbone(args.tiny), embedding_dim=2048, use_jasper_mlp=True)
    torch.manual_seed(0)
    model = JasperTCModel(config)
    model.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=7e-5)
    model, optimizer = accelerator.prepare(model, optimizer)
    objective = distill_objective(LossConfig(cosine=10, similarity=100))
    schedule = Algorithm2(0)
    generator = torch.Generator().manual_seed(0)
    vocab = config.text_config.vocab_size
    now = clock(accelerator.device)

    timed_tokens, timed_seconds, parameters = 0, 0.0, sum(p.numel() for p in model.parameters())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for step in range(args.steps):
        batches = [
            synthetic_batch(args.batch_size, args.length, vocab, accelerator.device, generator)
            for _ in range(args.accumulation)
        ]
        start = now()
        run_step(accelerator, model, batches, objective, schedule.ratio(step),
                 gradient_cache=args.gradient_cache, clock=now)  # fmt: skip
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = now() - start
        tokens = sum(b.tokens for b in batches)
        if step > 0:  # the first step warms up kernels and the allocator
            timed_tokens, timed_seconds = timed_tokens + tokens, timed_seconds + seconds
        print(f"step {step}: ratio {schedule.ratio(step):.2f}, {tokens} tokens, {seconds:.2f} s", flush=True)
    result = {
        "device": device_name(accelerator.device.type),
        "parameters": parameters,
        "batch": f"{args.batch_size} x {args.accumulation}" + (" (gradient cache)" if args.gradient_cache else ""),
        "length": args.length,
        "tokens_per_s": timed_tokens / timed_seconds if timed_seconds else float("nan"),
        "steps_per_s": (args.steps - 1) / timed_seconds if timed_seconds else float("nan"),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan"),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
