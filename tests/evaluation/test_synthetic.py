"""The LongEmbed-style synthetic tasks: deterministic, the right length, one relevant document per query."""

from __future__ import annotations

import re

import pytest

from jasper_tc.evaluation.synthetic import build_synthetic


def count_words(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


@pytest.mark.parametrize("kind", ["passkey", "needle"])
def test_each_query_asks_for_the_fact_hidden_in_its_one_relevant_document(kind):
    task = build_synthetic(kind, 300, count_words, documents=12, queries=5)
    assert len(task.documents) == 12 and len(task.queries) == 5 == len(task.relevant) == len(task.depths)
    for query, relevant in zip(task.queries, task.relevant):
        ((row, grade),) = relevant.items()
        name = re.search(r"of (\w+ \w+)\?$", query).group(1)
        assert grade == 1 and name in task.documents[row]
        assert sum(name in document for document in task.documents) == 1  # no other document names them
    for document in task.documents:
        assert 300 - 25 <= count_words(document) <= 300  # filled to the length, never past it


def test_the_same_seed_builds_the_same_task_and_another_seed_another():
    first = build_synthetic("passkey", 200, count_words, documents=8, queries=4)
    again = build_synthetic("passkey", 200, count_words, documents=8, queries=4)
    other = build_synthetic("passkey", 200, count_words, documents=8, queries=4, seed=1)
    assert first == again and first.documents != other.documents


def test_facts_sit_at_all_depths():
    task = build_synthetic("needle", 400, count_words, documents=40, queries=40)
    assert min(task.depths) < 0.2 and max(task.depths) > 0.8


@pytest.mark.parametrize(
    ("kind", "queries", "message"),
    [("riddle", 2, "kind must be one of passkey, needle"), ("passkey", 9, r"queries \(9\) cannot outnumber")],
)
def test_bad_settings_are_named(kind, queries, message):
    with pytest.raises(ValueError, match=message):
        build_synthetic(kind, 100, count_words, documents=8, queries=queries)
