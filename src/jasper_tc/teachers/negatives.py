"""Hard-negative mining for stage-4 triples with a teacher.

For each ``{"query", "positive"}`` pair, the candidates (a document corpus plus every positive) are
ranked by the teacher's cosine score; positives are never negatives; a rank window skips the very top
ranks, where unlabelled positives hide, and a margin drops any candidate scoring within ``margin`` of
the query's positive. The first ``k`` survivors become the pair's negatives.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes
from ..corpus import CorpusError, iter_records, iter_triples
from ..encode import Encoder

__all__ = ["MiningStats", "mine_negatives"]


@dataclass(frozen=True)
class MiningStats:
    pairs: int
    candidates: int
    short: int  # pairs that got fewer than k negatives


def mine_negatives(
    encoder: Encoder,
    pairs_path: str | os.PathLike,
    corpus_path: str | os.PathLike | None,
    output_path: str | os.PathLike,
    *,
    k: int = 3,
    rank_window: tuple[int, int] = (0, 100),
    margin: float | None = 0.05,
    text_field: str = "text",
    query_prompt_name: str | None = "query",
    document_prompt_name: str | None = "document",
    batch_size: int = 32,
    chunk: int = 1024,
) -> MiningStats:
    """Write a triples file (``{"query", "positive", "negatives"}`` per line) to ``output_path``."""
    low, high = rank_window
    if k < 1 or not 0 <= low < high or high - low < k:
        raise ValueError(f"need k >= 1 and a rank window [low, high) of at least k ranks, got k={k}, {rank_window}")
    pairs = [(query, positive) for _, query, positive, _ in iter_triples(pairs_path)]
    if not pairs:
        raise CorpusError(f"{pairs_path}: no pairs")
    candidates = list(
        dict.fromkeys(
            [p for _, p in pairs] + ([text for _, text in iter_records(corpus_path, text_field)] if corpus_path else [])
        )
    )
    position = {text: i for i, text in enumerate(candidates)}

    def prompt(name: str | None) -> str | None:
        return name if name in encoder.prompts else None

    documents = encoder.encode(
        candidates, prompt_name=prompt(document_prompt_name), batch_size=batch_size, show_progress_bar=True
    )
    queries = encoder.encode(
        [q for q, _ in pairs], prompt_name=prompt(query_prompt_name), batch_size=batch_size, show_progress_bar=True
    )
    positives_of: dict[str, set[int]] = {}
    for query, positive in pairs:
        positives_of.setdefault(query, set()).add(position[positive])

    lines, short = [], 0
    for start in tqdm(range(0, len(pairs), chunk), desc="mine negatives", unit="chunk"):
        scores = queries[start : start + chunk] @ documents.T  # (q, N) cosine: both sides normalised
        for row, (query, positive) in enumerate(pairs[start : start + chunk]):
            excluded = positives_of[query]
            take = min(len(candidates), high + len(excluded))
            top = np.argpartition(-scores[row], take - 1)[:take] if take < len(candidates) else np.arange(take)
            ranked = [i for i in top[np.argsort(-scores[row][top], kind="stable")] if i not in excluded]
            ceiling = scores[row][position[positive]] - margin if margin is not None else np.inf
            chosen = [candidates[i] for i in ranked[low:high] if scores[row][i] < ceiling][:k]
            short += len(chosen) < k
            lines.append(json.dumps({"query": query, "positive": positive, "negatives": chosen}, ensure_ascii=False))
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output_path, ("\n".join(lines) + "\n").encode("utf-8"))
    return MiningStats(pairs=len(pairs), candidates=len(candidates), short=short)
