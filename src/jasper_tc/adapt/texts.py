"""The texts ``adapt`` trains on: the corpus and short texts from it, and long texts made by joining it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..atomic import atomic_write_json, atomic_write_text
from ..corpus import iter_records
from .plan import AdaptPlan

__all__ = ["write_long_texts", "write_training_texts"]


def _first_sentence(text: str) -> str | None:
    match = re.match(r"(.{20,300}?[.!?。！？])(\s|$)", text.strip(), flags=re.S)
    return match.group(1).strip() if match else None


def write_training_texts(plan: AdaptPlan, path: Path) -> dict[str, int]:
    """The corpus's texts, plus the first sentence of every 1/``short_share``-th one (short texts: the MLP
    transforms queries too, so it must learn to leave them as they were); ids are fresh and unique."""
    if path.is_file():
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    documents, short, seen = [], [], set()
    every = round(1 / plan.short_share) if plan.short_share > 0 else 0
    for i, (_, text) in enumerate(iter_records(plan.corpus, plan.text_field)):
        if plan.max_texts is not None and i >= plan.max_texts:
            break
        if text in seen:
            continue
        seen.add(text)
        documents.append(text)
        sentence = _first_sentence(text) if every and i % every == 0 else None
        if sentence and sentence not in seen:
            seen.add(sentence)
            short.append(sentence)
    if not documents:
        raise ValueError(f"{plan.corpus}: no texts")
    rows = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(documents)]
    rows += [{"id": f"short-{i}", "text": t} for i, t in enumerate(short)]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts = {"documents": len(documents), "short_texts": len(short)}
    atomic_write_json(path.with_suffix(".json"), counts)
    return counts


def write_long_texts(texts: Path, path: Path, groups: tuple[int, ...], count: int) -> int:
    """Up to ``count`` texts, as many of each length: ``g`` consecutive training documents joined for each
    ``g`` of ``groups`` (windows that overlap by half, so none repeats; a corpus shorter than a group gives
    its whole text once): long inputs to train on."""
    if not path.is_file():
        rows = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines()]
        documents = [r["text"] for r in rows if r["id"].startswith("doc-")]
        each = max(1, count // len(groups))
        joined = []
        for group in groups:
            starts = range(0, max(1, len(documents) - group + 1), max(1, group // 2))
            joined += ["\n".join(documents[start : start + group]) for start in starts][:each]
        joined = list(dict.fromkeys(joined))  # the teacher store refuses a text twice
        lines = (
            json.dumps({"id": f"long-{j}", "text": text}, ensure_ascii=False) + "\n" for j, text in enumerate(joined)
        )
        atomic_write_text(path, "".join(lines))
    return sum(1 for _ in path.open(encoding="utf-8"))
