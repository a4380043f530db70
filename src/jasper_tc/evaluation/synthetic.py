"""LongEmbed-style synthetic retrieval (arXiv 2404.12096): a fact hidden at a random depth of a long filler
document, and a query that asks for it; one relevant document among ``documents``, scored by nDCG@1.

- ``passkey``: "The pass key of Ada Brennan is 48213. Remember it. ..." -> "What is the pass key of Ada
  Brennan?"
- ``needle``: "The favourite instrument of Ada Brennan is the oboe." -> "What is the favourite instrument
  of Ada Brennan?"

Everything is generated here, deterministically from the seed and the length: the filler is made of
sentences drawn from small word lists (no shipped text), and every document is filled to ``length``
tokens of the model's own tokenizer, so "8,192 tokens" means 8,192 tokens to the model evaluated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KINDS", "SyntheticTask", "build_synthetic"]

KINDS = ("passkey", "needle")

_FIRST = "Ada Bruno Clara Dmitri Elena Farid Greta Hiro Ines Jonas Kaia Luca Mira Nils Olga Pavel Quinn Rosa".split()
_FIRST += "Sami Tara Umar Vera Wen Xavi Yara Zeno Amos Bea Cyrus Dora Emil Fay Gus Hana Ivo Jade Kurt Lena".split()
_LAST = "Brennan Castillo Dubois Eklund Ferraro Galloway Haddad Ivanova Jansen Kowalski Lindqvist Moreau".split()
_LAST += "Nakamura Okafor Petrov Quintero Rossi Sandoval Tanaka Umarov Varga Whitfield Yilmaz Zeller".split()
_FACTS = {
    "favourite instrument": ["the oboe", "the cello", "the banjo", "the harp", "the tuba", "the sitar", "the marimba"],
    "favourite city": ["Lisbon", "Oslo", "Nairobi", "Quito", "Hanoi", "Tbilisi", "Perth", "Montreal", "Osaka"],
    "pet's name": ["Biscuit", "Pepper", "Noodle", "Waffles", "Mango", "Pickles", "Juniper", "Turnip", "Pretzel"],
    "favourite tree": ["the larch", "the baobab", "the willow", "the cedar", "the rowan", "the cypress"],
    "first car": ["a green Beetle", "a red Panda", "a white Corolla", "a blue Mini", "a yellow Fiat"],
}
_SUBJECTS = ["The river", "The committee", "A farmer", "The old bridge", "The market", "The orchestra", "A traveller"]
_VERBS = ["opened", "closed", "crossed", "painted", "measured", "visited", "praised", "rebuilt", "watched"]
_OBJECTS = ["the valley", "the harbour", "the northern road", "a quiet square", "the library", "the vineyard"]
_TAILS = ["in early spring", "after the long rain", "before the festival", "during the winter", "at dawn"]


def _names(rng: random.Random, count: int) -> list[str]:
    pairs = [f"{first} {last}" for first in _FIRST for last in _LAST]
    return rng.sample(pairs, count)


def _filler_sentence(rng: random.Random) -> str:
    parts = (_SUBJECTS, _VERBS, _OBJECTS, _TAILS)
    return " ".join(rng.choice(words) for words in parts) + "."


def _needle(kind: str, name: str, rng: random.Random) -> tuple[str, str]:
    """The fact to hide and the query that asks for it."""
    if kind == "passkey":
        key = rng.randrange(10_000, 100_000)
        fact = f"The pass key of {name} is {key}. Remember it. {key} is the pass key of {name}."
        return fact, f"What is the pass key of {name}?"
    what = rng.choice(sorted(_FACTS))
    return f"The {what} of {name} is {rng.choice(_FACTS[what])}.", f"What is the {what} of {name}?"


@dataclass(frozen=True)
class SyntheticTask:
    kind: str
    length: int  # tokens per document, by the tokenizer given
    queries: list[str]
    documents: list[str]
    relevant: list[dict[int, int]]  # per query: document row -> 1
    depths: list[float]  # where the fact sits in each queried document (0 = start, 1 = end)


def build_synthetic(
    kind: str,
    length: int,
    count_tokens: Callable[[str], int],
    *,
    documents: int = 100,
    queries: int = 50,
    seed: int = 0,
) -> SyntheticTask:
    """``documents`` filler documents of ``length`` tokens, each hiding one fact at a random depth, and
    ``queries`` questions, each about the fact of one document (its only relevant one)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if queries > documents:
        raise ValueError(f"queries ({queries}) cannot outnumber documents ({documents})")
    rng = random.Random(f"{kind}:{length}:{seed}")
    texts, asked, depths = [], [], []
    for name in _names(rng, documents):
        fact, question = _needle(kind, name, rng)
        filler = _fill(rng, length - count_tokens(fact), count_tokens)
        depth = rng.random()
        cut = round(depth * len(filler))
        texts.append(" ".join([*filler[:cut], fact, *filler[cut:]]))
        asked.append(question)
        depths.append(depth)
    chosen = sorted(rng.sample(range(documents), queries))
    return SyntheticTask(
        kind=kind,
        length=length,
        queries=[asked[i] for i in chosen],
        documents=texts,
        relevant=[{i: 1} for i in chosen],
        depths=[depths[i] for i in chosen],
    )


def _fill(rng: random.Random, tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Filler sentences of about ``tokens`` tokens in all: each sentence counted once (the word lists make a
    few thousand), then the whole counted and trimmed to at most ``tokens``."""
    sizes: dict[str, int] = {}
    sentences, total = [], 0
    while total < tokens:
        sentence = _filler_sentence(rng)
        if sentence not in sizes:
            sizes[sentence] = count_tokens(sentence)
        sentences.append(sentence)
        total += sizes[sentence]
    while sentences and count_tokens(" ".join(sentences)) > tokens:
        sentences.pop()
    return sentences
