"""Training throughput of the CPU-scale recipe (configs/minilm-cpu/), stage by stage, in one run.

Builds a teacher store over the first ``--rows`` paragraphs of the shipped sample and mines stage-4
triples, then runs each stage's shipped config for ``--steps`` steps (all else as shipped). From the
loop's own per-step timings (log.jsonl) it reports tokens/s, steps/s, and where a step's time goes;
"overhead" is everything outside forward, backward and the optimizer (reading rows and teacher
vectors, tokenising, logging). Target: overhead <= 10% of a step. The first step (warm-up) is left out.

    python benchmarks/train_throughput.py [--steps 12] [--rows 512]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
from pathlib import Path

import torch
import yaml

from _common import ROOT, table_head, table_row, write_results

RECIPE = ROOT / "configs" / "minilm-cpu"


def first_lines(source: Path, target: Path, count: int) -> Path:
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        target.write_text("".join(next(handle) for _ in range(count)), encoding="utf-8")
    return target


def prepare(folder: Path, rows: int) -> dict[str, Path]:
    import jasper_tc
    from jasper_tc.teachers import load_teach_config, teach
    from jasper_tc.teachers.negatives import mine_negatives

    corpus = first_lines(ROOT / "data/quickstart/paragraphs.jsonl.gz", folder / "paragraphs.jsonl", rows)
    pairs = first_lines(ROOT / "data/quickstart/pairs.jsonl.gz", folder / "pairs.jsonl", rows // 4)
    teach(load_teach_config(RECIPE / "teach.yaml", [f"corpus.path={corpus}", f"output={folder / 'teachers'}"]))
    teacher = jasper_tc.load("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    mine_negatives(teacher, pairs, corpus, folder / "triples.jsonl", k=3)
    triples = ["corpus.path=" + str(folder / "triples.jsonl"), f"output={folder / 'teachers-triples'}"]
    teach(load_teach_config(RECIPE / "teach-triples.yaml", triples))
    return {"corpus": corpus, "triples": folder / "triples.jsonl"}


def run_stage(stage: str, folder: Path, paths: dict[str, Path], steps: int, previous: Path | None) -> dict:
    from jasper_tc.configs import apply_overrides, parse_config
    from jasper_tc.training import TrainConfig, check_train_config, train

    data = yaml.safe_load((RECIPE / f"{stage}.yaml").read_text())
    data.pop("epochs", None)
    overrides = [f"output={folder / stage}", f"steps={steps}", "tensorboard=false", "log_every=1"]
    if stage == "stage4":
        overrides += [f"data.triples={paths['triples']}", f"data.teacher_store={folder}/teachers-triples/fused"]
    else:
        overrides += [f"data.corpus.path={paths['corpus']}", f"data.teacher_store={folder}/teachers/fused"]
    if previous is not None:
        overrides.append(f"start.checkpoint={previous}")
    config = check_train_config(parse_config(TrainConfig, apply_overrides(data, overrides)), stage)
    result = train(config)
    records = [json.loads(line) for line in (folder / stage / "log.jsonl").read_text().splitlines()][1:]
    total = sum(r["step_s"] for r in records)
    parts = {k: sum(r["seconds"][k] for r in records) / total for k in records[0]["seconds"]}
    return {
        "stage": stage,
        "setting": describe(config),
        "steps_per_s": len(records) / total,
        "tokens_per_s": sum(r["tokens"] for r in records) / total,
        "step_s": statistics.median(r["step_s"] for r in records),
        **{f"share_{k}": v for k, v in parts.items()},
        "overhead": parts["data"] + parts["other"],
        "model": result.model,
    }


def describe(config) -> str:
    batch = f"{config.batch_size}x{config.accumulation}" + (" cache" if config.gradient_cache else "")
    terms = "+".join(k for k in ("cosine", "similarity", "info_nce", "soft_distillation") if getattr(config.loss, k))
    return f"{batch}, {terms}, {config.compression.schedule}, len {config.data.max_length}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rows", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = prepare(folder, args.rows)
        previous = None
        for stage in ("stage1", "stage2", "stage3", "stage4"):
            row = run_stage(stage, folder, paths, args.steps, previous)
            previous = row.pop("model")
            rows.append(row)
    parts = ("data", "forward", "backward", "optimizer", "other")
    lines = table_head("stage", "setting", "steps/s", "tokens/s", "median step s", *parts, "overhead", left=2)
    for r in rows:
        speeds = (f"{r['steps_per_s']:.2f}", f"{r['tokens_per_s']:.0f}", f"{r['step_s']:.2f}")
        shares = (f"{100 * r[f'share_{k}']:.1f}%" for k in parts)
        lines.append(table_row(r["stage"], r["setting"], *speeds, *shares, f"{100 * r['overhead']:.1f}%"))
    threads = torch.get_num_threads()
    text = (
        f"# Training throughput, CPU-scale recipe ({threads} threads, {args.steps - 1} timed steps per stage)\n\n"
        + "\n".join(lines)
        + "\n\nOverhead = data + other (everything outside forward, backward and optimizer); target <= 10%.\n"
    )
    print(text)
    write_results("train_throughput-cpu", text)


if __name__ == "__main__":
    main()
