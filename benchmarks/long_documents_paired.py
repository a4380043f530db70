"""The long-document study's time shares, paired: a baseline and its candidate strategies encode one real
task's documents in alternating rounds of one sitting (the order reversed every other round).

The study times each strategy once, in its own sitting, and its verdicts turn on a time share (a third of
chunk-and-mean's, half of chunk-max's); shares near a limit move between sittings by more than their margin.
Here each round times every strategy back to back, so the share is taken round by round (median, min, max).

    python benchmarks/long_documents_paired.py --model runs/adapt-ws/model --task PythonDocs-en \
        --strategies chunk,segments-512-b144 --rounds 3
    python benchmarks/long_documents_paired.py --model runs/adapt-ws/model --task LongWiki-en --min-tokens 4096 \
        --strategies chunk,segments-768-b224

``--min-tokens`` keeps the documents of at least that many tokens (and the queries whose document is one of
them), as the study's length buckets do.

The first strategy is the baseline; names are the study's (``jasper_tc.studies.long_documents.STRATEGIES``).
Writes ``results/long_documents_paired-<task>[-<min tokens>+]-<strategies>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import _common as common
from jasper_tc.encode import load
from jasper_tc.evaluation import metrics
from jasper_tc.evaluation.tasks import load_suite, load_task, select_tasks
from jasper_tc.resources import find_suite
from jasper_tc.studies.long_documents import STRATEGIES, LongDocumentStudy, encode_documents


def _documents(encoder, loaded, cap: int, min_tokens: int) -> tuple[list[str], list[str], list[dict]]:
    """The task's documents of at least ``min_tokens`` tokens, the queries whose document is one, their qrels."""
    texts = loaded.texts["documents"]
    kept = [i for i, ids in enumerate(encoder.tokenize(texts, cap)[0]) if len(ids) >= min_tokens]
    index = {old: new for new, old in enumerate(kept)}
    asked = [q for q, relevant in enumerate(loaded.relevant) if all(d in index for d in relevant)]
    relevant = [{index[d]: grade for d, grade in loaded.relevant[q].items()} for q in asked]
    return [texts[i] for i in kept], [loaded.texts["queries"][q] for q in asked], relevant


def measure(model: str, task_name: str, names: list[str], rounds: int, dtype: str | None, min_tokens: int) -> dict:
    """ms per document of each strategy in each round, and each strategy's nDCG@10 (from its first round)."""
    study = LongDocumentStudy(output=Path("."), models={}, dtype=dtype)
    encoder = load(model, device="cpu", dtype=dtype)
    suite, root = load_suite(find_suite("local-bilingual"))
    loaded = load_task(select_tasks(suite, [task_name], prompts=False).tasks[0], root)
    documents, asked, relevant = _documents(encoder, loaded, study.cap, min_tokens)
    queries = encoder.encode(asked, show_progress_bar=False)
    times: dict[str, list[float]] = {name: [] for name in names}
    quality: dict[str, float] = {}
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            vectors, ms = encode_documents(encoder, documents, study, STRATEGIES[name])
            times[name].append(ms)
            quality.setdefault(name, metrics.retrieval(queries, vectors, relevant)["ndcg_at_10"])
            print(f"round {round_ + 1}: {name} {ms:.0f} ms/doc", flush=True)
    return {
        "model": model,
        "task": task_name,
        "precision": encoder.precision,
        "machine": common.cpu_description(),
        "documents": len(documents),
        "queries": len(asked),
        "min_tokens": min_tokens,
        "ms_per_doc_by_round": times,
        "ndcg_at_10": quality,
    }


def shares(measured: dict, name: str) -> list[float]:
    """A strategy's time as a share of the baseline's (the first strategy), round by round."""
    by_round = measured["ms_per_doc_by_round"]
    return [ms / base for ms, base in zip(by_round[name], next(iter(by_round.values())), strict=True)]


def table(measured: dict) -> str:
    names = list(measured["ms_per_doc_by_round"])
    longer = f" (those of {measured['min_tokens']:,} tokens and more)" if measured["min_tokens"] else ""
    lines = [
        f"{measured['task']}, {measured['model']} ({measured['precision']}; {measured['machine']}): "
        f"{measured['documents']} documents{longer} encoded together per strategy, strategies alternating each "
        f"round; nDCG@10 of their {measured['queries']} queries among them.",
        "",
        *common.table_head("strategy", "nDCG@10", "ms/doc by round", "time share (median)", "min", "max", left=1),
    ]
    for name in names:
        share = shares(measured, name)
        by_round = ", ".join(f"{ms:.0f}" for ms in measured["ms_per_doc_by_round"][name])
        lines.append(
            common.table_row(
                name,
                f"{100 * measured['ndcg_at_10'][name]:.2f}",
                by_round,
                f"{statistics.median(share):.3f}",
                f"{min(share):.3f}",
                f"{max(share):.3f}",
            )
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--task", default="PythonDocs-en")
    parser.add_argument("--strategies", default="chunk,segments-512", help="comma-separated; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--min-tokens", type=int, default=0, help="only documents of at least this many tokens")
    args = parser.parse_args()
    names = args.strategies.split(",")
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or len(names) < 2:
        parser.error(f"give a baseline and at least one candidate from {', '.join(STRATEGIES)}; unknown: {unknown}")
    measured = measure(args.model, args.task, names, args.rounds, args.dtype, args.min_tokens)
    measured["median_share"] = {name: statistics.median(shares(measured, name)) for name in names}
    text = table(measured)
    print(text)
    longer = f"-{args.min_tokens}+" if args.min_tokens else ""
    path = common.write_results(f"long_documents_paired-{args.task}{longer}-{'-'.join(names)}", text, measured)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
