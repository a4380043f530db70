"""Rebuild this folder's sample from the project's shared data (``../shared/data/unlabelled``).

    python data/quickstart/build.py [SHARED_DATA]

Takes the first 2,000 English and 2,000 Chinese Wikipedia paragraphs (the files are shuffled with a
fixed seed already), keeps at most one paragraph per article for the stage-4 pairs (article title ->
paragraph), and writes ``paragraphs.jsonl.gz`` and ``pairs.jsonl.gz``, byte-identical on every run.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PER_LANGUAGE = 2000
PAIRS_PER_LANGUAGE = 600


def read(path: Path, count: int) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(next(handle)) for _ in range(count)]


def write(path: Path, rows: list[dict]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
    paragraphs, pairs = [], []
    for language in ("en", "zh"):
        rows = read(shared / f"unlabelled/wiki_paragraphs_{language}/wiki-{language}-paragraphs.jsonl.gz", PER_LANGUAGE)
        paragraphs += [{"id": r["id"], "text": r["text"], "url": r["url"]} for r in rows]
        titles: set[str] = set()
        for r in rows:
            if r["title"] not in titles and len(titles) < PAIRS_PER_LANGUAGE:
                titles.add(r["title"])
                pairs.append({"query": r["title"], "positive": r["text"]})
    write(HERE / "paragraphs.jsonl.gz", paragraphs)
    write(HERE / "pairs.jsonl.gz", pairs)
    print(f"{len(paragraphs)} paragraphs, {len(pairs)} pairs")


if __name__ == "__main__":
    main()
