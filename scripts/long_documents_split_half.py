"""Is the long-document study's choice of strategy a choice made on the queries that judge it?

The study judges the best compressed strategy of each kind on all of a task's queries. Here the queries are
split in two halves (even and odd positions): the strategy is chosen on one half, by the study's rule (the
best-scoring within the time allowed, times from the study's results), and judged on the other half.

    python scripts/long_documents_split_half.py --model runs/adapt-ws/model --label adapted+long \
        --results runs/long-documents-merge/results.json --output docs/long-documents/split-half.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jasper_tc.atomic import atomic_write_json
from jasper_tc.encode import load
from jasper_tc.evaluation import metrics
from jasper_tc.evaluation.tasks import load_suite, load_task, select_tasks
from jasper_tc.resources import find_suite
from jasper_tc.studies.long_documents import STRATEGIES, TARGETS, LongDocumentStudy, encode_documents

CANDIDATES = {
    "single": ["segments-512", "segments-512-b144", "segments-768-b224", "segments-768", "late-1024"],
    "multi": ["late-max-512-s64", "late-max-512-s32", "late-max-512-b208-s32", "chunk-max-0.2"],
}


def halves(encoder, loaded, names: list[str], study: LongDocumentStudy) -> dict[str, list[float]]:
    """Each strategy's nDCG@10 on the even and the odd queries."""
    queries = encoder.encode(loaded.texts["queries"], show_progress_bar=False)
    split = [np.arange(0, len(queries), 2), np.arange(1, len(queries), 2)]
    scores = {}
    for name in names:
        documents, _ = encode_documents(encoder, loaded.texts["documents"], study, STRATEGIES[name])
        scores[name] = [
            metrics.retrieval(queries[part], documents, [loaded.relevant[q] for q in part])["ndcg_at_10"]
            for part in split
        ]
        print(name, [round(100 * s, 2) for s in scores[name]], flush=True)
    return scores


def judged(scores: dict, times: dict, kind: str) -> list[dict]:
    """Chosen on one half, judged on the other: the strategy, its gap there, and whether the target holds."""
    baseline, points, share = TARGETS[kind]
    fast = [n for n in CANDIDATES[kind] if times[n] <= share * times[baseline]]
    rows = []
    for chosen_on, judged_on in ((0, 1), (1, 0)):
        best = max(fast, key=lambda n: scores[n][chosen_on])
        gap = 100 * (scores[best][judged_on] - scores[baseline][judged_on])
        rows.append({"chosen_on": ["even", "odd"][chosen_on], "strategy": best, "minus_baseline_other_half": gap,
                     "time_over_baseline": times[best] / times[baseline], "holds": gap >= -points})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", required=True, help="the model's label in the study's results")
    parser.add_argument("--results", type=Path, required=True, help="the study's results.json (for the times)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--tasks", default="LongWiki-en,PythonDocs-en", help="comma-separated; others kept")
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    study = LongDocumentStudy(output=Path("."), models={}, dtype="auto")
    encoder = load(args.model, device="cpu", dtype="auto")
    suite, root = load_suite(find_suite("local-bilingual"))
    report = {"about": __doc__.split("\n\n")[1].replace("\n", " "), "model": args.label, "tasks": {}}
    if args.output.is_file():  # the tasks measured before stay
        report["tasks"] = json.loads(args.output.read_text(encoding="utf-8"))["tasks"]
    for task in select_tasks(suite, args.tasks.split(","), prompts=False).tasks:
        names = ["chunk", "chunk-max", *CANDIDATES["single"], *CANDIDATES["multi"]]
        times = {
            r["strategy"]: r["ms_per_doc"] for r in results["rows"]
            if r["model"] == args.label and r["task"] == task.name and r.get("bucket") is None
        }  # fmt: skip
        scores = halves(encoder, load_task(task, root), names, study)
        report["tasks"][task.name] = {
            "ndcg_at_10_even_odd": scores,
            **{kind: judged(scores, times, kind) for kind in CANDIDATES},
        }
        atomic_write_json(args.output, report)
    print(json.dumps({t: {k: v[k] for k in CANDIDATES} for t, v in report["tasks"].items()}, indent=1))


if __name__ == "__main__":
    main()
