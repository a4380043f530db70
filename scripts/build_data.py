"""Rebuild the data the package ships from the project's development data (``../shared/data``).

    python scripts/build_data.py [SHARED_DATA] [--output FOLDER]

Writes, byte-identical on every run (gzip without timestamps, rows in source order):

- ``quickstart/``: the first 2,000 English and 2,000 Chinese Wikipedia paragraphs (the source files are
  shuffled with a fixed seed already) and at most one title -> paragraph pair per article among them;
- ``eval/``: the local bilingual suite's tasks, each cut to what the suite reads (its ``limit`` and
  ``train_limit``), under the same relative paths as in the development data, so that the suite runs
  unchanged against either (``data_root=...``). STS-B rows from the MSR corpora are left out, as their
  terms ask; long documents are cut to what the latency measurement encodes. One task is built here
  rather than copied: ``retrieval/wiki_title2article_en/``, article title -> the article's paragraphs,
  from articles none of whose paragraphs is among the first 20,000 rows of the paragraph file, which
  is the most any training corpus of the project reads: a held-out split no config trains on.

A second long-document task of another genre, technical documentation, is built from the Python 3.11
documentation's reStructuredText sources as the Debian package ``python3.11-doc`` installs them
(``/usr/share/doc/python3.11/html/_sources``; PSF License, notice shipped beside the data):
``retrieval/python_docs_long_en/``, the 100 pages of 4,000 to 27,000 words (about 5,000 to 35,000 tokens),
each with four prose sentences drawn from beyond its first 512 tokens as queries.

The default output is the package's own ``jasper_tc/resources/data``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "jasper_tc" / "resources" / "data"
PARAGRAPHS_PER_LANGUAGE = 2000
PAIRS_PER_LANGUAGE = 600
# What the suite (resources/configs/eval/local-bilingual.yaml) reads of each task, at most.
PAIR_ROWS = 1000  # PAWSX-zh limit
CLASSIFICATION_TRAIN_ROWS = 3000  # Banking77 / CSL-category train_limit
LONG_DOCUMENTS = 96  # the reproduction's speed sample (the eval command's latency plot takes 16)
LONG_DOCUMENT_CHARS = 12_000  # at least 2,048 tokens of English, the longest length measured
MSR_CORPORA = {"MSRpar", "MSRvid"}
TRAINING_ROWS = 20_000  # training corpora read at most the first rows of the paragraph file
HELD_OUT_ARTICLES = 600
HELD_OUT_CHARS = 1_600  # about 350 tokens: past the 256 the long-text tasks are read at
# Long documents: whole articles (cut at a line ending), each with one query sentence drawn from beyond the
# first window, which truncation never reads.
LONG_ARTICLES = 100
LONG_CHARS = {"en": 30_000, "zh": 10_000}  # about 6,500 tokens of English; 10,000 Chinese characters
WINDOW_CHARS = {"en": 2_400, "zh": 600}  # about 512 tokens: the queries come from further in
# A sentence: from a line start or the end of the last sentence, to its own end, of a query's length.
SENTENCE = {
    "en": re.compile(r"(?:(?<=^)|(?<=[.!?] )|(?<=\n))[A-Z][^.!?\n]{60,240}[.!?](?= |\n|$)", re.M),
    "zh": re.compile(r"(?:(?<=^)|(?<=[。！？])|(?<=\n))[\u4e00-\u9fff][^。！？\n]{19,79}[。！？]", re.M),
}


def read_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_tsv(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def write(path: Path, text: str) -> None:
    """UTF-8 text, gzipped for ``.gz`` with no timestamp, so that every run writes the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".gz":
        path.write_bytes(text.encode("utf-8"))
        return
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(text.encode("utf-8"))


def jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def tsv(rows: Iterable[dict], fields: list[str]) -> str:
    lines = ["\t".join(fields)] + ["\t".join(str(row[f]) for f in fields) for row in rows]
    return "\n".join(lines) + "\n"


def build_quickstart(shared: Path, out: Path) -> str:
    paragraphs, pairs = [], []
    for language in ("en", "zh"):
        source = shared / f"unlabelled/wiki_paragraphs_{language}/wiki-{language}-paragraphs.jsonl.gz"
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            rows = [json.loads(next(handle)) for _ in range(PARAGRAPHS_PER_LANGUAGE)]
        paragraphs += [{"id": r["id"], "text": r["text"], "url": r["url"]} for r in rows]
        titles: set[str] = set()
        for r in rows:
            if r["title"] not in titles and len(titles) < PAIRS_PER_LANGUAGE:
                titles.add(r["title"])
                pairs.append({"query": r["title"], "positive": r["text"]})
    write(out / "quickstart/paragraphs.jsonl.gz", jsonl(paragraphs))
    write(out / "quickstart/pairs.jsonl.gz", jsonl(pairs))
    return f"quickstart: {len(paragraphs)} paragraphs, {len(pairs)} pairs"


def _cut(text: str, limit: int) -> str:
    """The first ``limit`` characters, ending at a line break when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head[: head.rfind("\n")] if "\n" in head else head


def build_eval(shared: Path, out: Path) -> list[str]:
    said = []
    # STS-B test without the MSR rows; English, Chinese (row-aligned) and the bitext task read these.
    benchmark = [r for r in read_tsv(shared / "sts/stsb_en/stsbenchmark.tsv.gz") if r["split"] == "test"]
    keep = [r["dataset"] not in MSR_CORPORA for r in benchmark]
    for language in ("en", "zh"):
        name = "stsb_en" if language == "en" else "stsb_zh_deepl"
        path = f"sts/{name}/stsb-multi-mt-{language}-test.tsv.gz"
        rows = read_tsv(shared / path)
        if len(rows) != len(benchmark):
            raise SystemExit(f"{path}: {len(rows)} rows, stsbenchmark test has {len(benchmark)}: not aligned")
        kept = [row for row, ok in zip(rows, keep) if ok]
        write(out / path, tsv(kept, ["sentence1", "sentence2", "score"]))
        said.append(f"{path}: {len(kept)} of {len(rows)} rows (MSR corpora left out)")

    path = "pair_classification/pawsx_zh/pawsx-zh-test.tsv.gz"
    rows = read_tsv(shared / path)[:PAIR_ROWS]
    write(out / path, tsv(rows, ["sentence1", "sentence2", "label"]))
    said.append(f"{path}: {len(rows)} rows")

    for name in ("corpus-en", "corpus-zh", "queries-en", "queries-zh"):
        path = f"retrieval/xquad_en_zh/{name}.jsonl.gz"
        rows = read_jsonl(shared / path)
        write(out / path, jsonl({"_id": r["_id"], "text": r["text"]} for r in rows))
        said.append(f"{path}: {len(rows)} rows")
    path = "retrieval/xquad_en_zh/qrels/test.tsv"
    write(out / path, (shared / path).read_text(encoding="utf-8"))

    base = "retrieval/csl_title2abstract_zh"
    qrels = read_tsv(shared / f"{base}/qrels/test.tsv")
    wanted = {r["query-id"] for r in qrels}
    queries = [r for r in read_jsonl(shared / f"{base}/queries.jsonl.gz") if r["_id"] in wanted]
    corpus = read_jsonl(shared / f"{base}/corpus.jsonl.gz")  # all 2,000: the dev abstracts are the distractors
    write(out / f"{base}/queries.jsonl.gz", jsonl({"_id": r["_id"], "text": r["text"]} for r in queries))
    write(out / f"{base}/corpus.jsonl.gz", jsonl({"_id": r["_id"], "text": r["text"]} for r in corpus))
    write(out / f"{base}/qrels/test.tsv", (shared / f"{base}/qrels/test.tsv").read_text(encoding="utf-8"))
    said.append(f"{base}: {len(queries)} test queries, {len(corpus)} documents")

    path = "classification/banking77_en/banking77-train.tsv.gz"
    rows = read_tsv(shared / path)[:CLASSIFICATION_TRAIN_ROWS]
    write(out / path, tsv(rows, ["text", "label"]))
    said.append(f"{path}: {len(rows)} rows")
    path = "classification/banking77_en/banking77-test.tsv.gz"  # all of it: the clustering task reads every row
    rows = read_tsv(shared / path)
    write(out / path, tsv(rows, ["text", "label"]))
    said.append(f"{path}: {len(rows)} rows")

    path = "classification/csl_zh/csl-category-train-titles.tsv.gz"
    rows = read_tsv(shared / path)[:CLASSIFICATION_TRAIN_ROWS]
    write(out / path, tsv(rows, ["title", "category"]))
    said.append(f"{path}: {len(rows)} rows")
    path = "classification/csl_zh/csl-benchmark-test.jsonl.gz"
    rows = read_jsonl(shared / path)
    write(out / path, jsonl({"id": r["id"], "title": r["title"], "category": r["category"]} for r in rows))
    said.append(f"{path}: {len(rows)} rows (id, title, category)")

    said.append(build_held_out(shared, out))
    said += [build_long_retrieval(shared, out, language) for language in ("en", "zh")]

    path = "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz"
    rows = read_jsonl(shared / path)[:LONG_DOCUMENTS]
    cut = ({"id": r["id"], "url": r["url"], "text": _cut(r["text"], LONG_DOCUMENT_CHARS)} for r in rows)
    write(out / path, jsonl(cut))
    said.append(f"{path}: {len(rows)} articles, the first {LONG_DOCUMENT_CHARS:,} characters of each")
    return said


def build_held_out(shared: Path, out: Path) -> str:
    """Title -> article retrieval over English articles that no training corpus reads (see the module doc)."""
    rows = read_jsonl(shared / "unlabelled/wiki_paragraphs_en/wiki-en-paragraphs.jsonl.gz")
    seen = {r["doc_id"] for r in rows[:TRAINING_ROWS]}
    articles: dict[str, list[dict]] = {}
    for r in rows[TRAINING_ROWS:]:
        if r["doc_id"] not in seen:
            articles.setdefault(r["doc_id"], []).append(r)
    chosen = [parts for parts in articles.values() if len(parts) >= 2][:HELD_OUT_ARTICLES]
    base = "retrieval/wiki_title2article_en"
    corpus = [
        {
            "_id": f"wiki-{p[0]['doc_id']}",
            "text": _cut("\n".join(x["text"] for x in p), HELD_OUT_CHARS),
            "url": p[0]["url"],
        }
        for p in chosen
    ]
    queries = [{"_id": f"q-{p[0]['doc_id']}", "text": p[0]["title"]} for p in chosen]
    write(out / f"{base}/corpus.jsonl.gz", jsonl(corpus))
    write(out / f"{base}/queries.jsonl.gz", jsonl(queries))
    qrels = [{"query-id": q["_id"], "corpus-id": d["_id"], "score": 1} for q, d in zip(queries, corpus)]
    write(out / f"{base}/qrels/test.tsv", tsv(qrels, ["query-id", "corpus-id", "score"]))
    return f"{base}: {len(chosen)} held-out articles (title -> up to {HELD_OUT_CHARS:,} characters of paragraphs)"


def build_long_retrieval(shared: Path, out: Path, language: str) -> str:
    """Sentence -> whole article: the query is a sentence of the article from beyond its first window."""
    rows = read_jsonl(shared / f"long_docs/wiki_long_{language}/wiki-{language}-long-docs.jsonl.gz")[:LONG_ARTICLES]
    base = f"retrieval/long_wiki_{language}"
    corpus, queries, depths = [], [], []
    for row in rows:
        text = _cut(row["text"], LONG_CHARS[language])
        rng = random.Random(f"{language}:{row['id']}")
        candidates = [m for m in SENTENCE[language].finditer(text) if m.start() > WINDOW_CHARS[language]]
        match = candidates[rng.randrange(len(candidates))]
        corpus.append({"_id": row["id"], "text": text, "url": row["url"]})
        queries.append({"_id": f"q-{row['id']}", "text": match.group(0).strip(), "offset": match.start()})
        depths.append(match.start() / len(text))
    write(out / f"{base}/corpus.jsonl.gz", jsonl(corpus))
    write(out / f"{base}/queries.jsonl.gz", jsonl(queries))
    qrels = [{"query-id": q["_id"], "corpus-id": d["_id"], "score": 1} for q, d in zip(queries, corpus)]
    write(out / f"{base}/qrels/test.tsv", tsv(qrels, ["query-id", "corpus-id", "score"]))
    median = sorted(len(d["text"]) for d in corpus)[len(corpus) // 2]
    depth = sorted(depths)[len(depths) // 2]
    return f"{base}: {len(corpus)} articles (median {median:,} characters), queries at median depth {depth:.2f}"


PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
PYTHON_DOCS_PAGES, PYTHON_DOCS_QUERIES = 100, 4
PSF_NOTICE = (
    "The documentation pages of this task are from the Python 3.11 documentation, Copyright © 2001-2023 "
    "Python Software Foundation; All Rights Reserved, and ship under the PSF License Agreement below. Changes: "
    "83 pages of 4,000 to 27,000 words chosen, their reStructuredText reduced to plain text (prose paragraphs "
    "joined, roles replaced by their text, directives dropped); four sentences of each page copied as queries."
)
ROLE = re.compile(r":[a-z:]+:`~?!?([^`<]*?)(?: <[^>]*>)?`")  # :func:`os.path.join` -> os.path.join


UNDERLINE = re.compile(r"[=\-~^*#+`'\"]{3,}")  # a section title's underline
OPTION = re.compile(r"\s+:\w[\w-]*:")  # a directive's option line


def _plain(rst: str) -> str:
    """reStructuredText as a reader sees it: prose paragraphs on one line each (code and other indented blocks
    as they are), roles as their text, directives and their options dropped, section underlines dropped,
    ``literals`` as literals."""
    blocks, prose = [], []
    for line in rst.splitlines():
        stripped = line.strip()
        if stripped.startswith(".. ") or UNDERLINE.fullmatch(stripped) or OPTION.match(line):
            continue
        if stripped and not line[0].isspace():  # a prose line: it joins its paragraph
            prose.append(stripped)
            continue
        if prose:
            blocks.append(" ".join(prose))
            prose = []
        blocks.append(line.rstrip())
    blocks.append(" ".join(prose))
    text = ROLE.sub(r"\1", "\n".join(blocks)).replace("``", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _psf_license(sources: Path) -> str:
    """The notice, the summary of changes and the license terms that apply to the pages (the PSF License
    Agreement, and the zero-clause BSD license of the documentation's code), from the documentation's own page."""
    text = _plain((sources / "license.rst.txt").read_text(encoding="utf-8")).replace("|release|", "3.11")
    psf = text[text.index("PSF LICENSE AGREEMENT") : text.index("BEOPEN.COM LICENSE AGREEMENT")]
    bsd = text[text.index("ZERO-CLAUSE BSD LICENSE") : text.index("Licenses and Acknowledgements")]
    return f"# The Python documentation: license\n\n{PSF_NOTICE}\n\n```\n{psf.strip()}\n\n{bsd.strip()}\n```\n"


def build_python_docs(out: Path, sources: Path = PYTHON_DOCS) -> str:
    """Sentence -> whole documentation page, for pages of 4,000 to 27,000 words (license text left out)."""
    pages = []
    for path in sorted(sources.rglob("*.rst.txt")):
        name = path.relative_to(sources).as_posix().removesuffix(".rst.txt")
        words = len(path.read_text(encoding="utf-8").split())
        text = _plain(path.read_text(encoding="utf-8"))
        prose = [m for m in SENTENCE["en"].finditer(text) if m.start() > WINDOW_CHARS["en"]]
        if 4_000 <= words <= 27_000 and name != "license" and len(prose) >= 4 * PYTHON_DOCS_QUERIES:
            pages.append((name, text))
    rng = random.Random("python-docs")
    pages = sorted(rng.sample(pages, min(PYTHON_DOCS_PAGES, len(pages))))
    base = "retrieval/python_docs_long_en"
    corpus, queries = [], []
    for name, text in pages:
        candidates = [m for m in SENTENCE["en"].finditer(text) if m.start() > WINDOW_CHARS["en"]]
        chosen = random.Random(f"python-docs:{name}").sample(candidates, PYTHON_DOCS_QUERIES)
        picked = sorted(chosen, key=lambda m: m.start())
        corpus.append({"_id": name, "text": text, "url": f"https://docs.python.org/3.11/{name}.html"})
        queries += [
            {"_id": f"q-{name}-{i}", "text": m.group(0).strip(), "offset": m.start()} for i, m in enumerate(picked)
        ]
    write(out / f"{base}/corpus.jsonl.gz", jsonl(corpus))
    write(out / f"{base}/queries.jsonl.gz", jsonl(queries))
    qrels = [{"query-id": q["_id"], "corpus-id": q["_id"][2:].rsplit("-", 1)[0], "score": 1} for q in queries]
    write(out / f"{base}/qrels/test.tsv", tsv(qrels, ["query-id", "corpus-id", "score"]))
    (out / base / "LICENSE.md").write_text(_psf_license(sources), encoding="utf-8")
    median = sorted(len(d["text"].split()) for d in corpus)[len(corpus) // 2]
    return f"{base}: {len(corpus)} pages (median {median:,} words), {len(queries)} queries past the first window"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shared", nargs="?", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=PACKAGED)
    args = parser.parse_args()
    print(build_quickstart(args.shared, args.output))
    for line in build_eval(args.shared, args.output / "eval"):
        print(line)
    if PYTHON_DOCS.is_dir():
        print(build_python_docs(args.output / "eval"))
    else:
        print(f"{PYTHON_DOCS}: not here (apt-get install python3.11-doc); the Python docs task is left as it is")


if __name__ == "__main__":
    main()
