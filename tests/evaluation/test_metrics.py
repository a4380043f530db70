"""Each metric against a hand computation on a toy case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jasper_tc.evaluation import metrics


def unit(*rows):
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_sts_is_spearman_of_cosine():
    first = unit([1, 0], [1, 0], [1, 0], [1, 0])
    second = unit([1, 0], [1, 1], [0, 1], [-1, 1])  # cosines 1, .707, 0, -.707
    assert metrics.sts(first, second, np.array([5.0, 3.0, 1.0, 0.0]))["cosine_spearman"] == pytest.approx(1.0)
    assert metrics.sts(first, second, np.array([0.0, 1.0, 3.0, 5.0]))["cosine_spearman"] == pytest.approx(-1.0)


def test_pair_classification_average_precision():
    first = unit([1, 0], [1, 0], [1, 0], [1, 0])
    second = unit([1, 0], [1, 1], [0, 1], [-1, 1])
    # ranked by cosine: labels 1, 0, 1, 0 -> AP = (1/1 + 2/3) / 2
    result = metrics.pair_classification(first, second, np.array([1, 0, 1, 0]))
    assert result["cosine_ap"] == pytest.approx((1 + 2 / 3) / 2)


def test_retrieval_ndcg_recall_mrr_by_hand():
    queries = unit([1, 0, 0], [0, 1, 0])
    documents = unit([1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.8, 0.2])
    # q0 ranking: d0, d1, d3?, ...; relevant: d1 (rank 2) -> nDCG = 1/log2(3), MRR = 1/2
    # q1 ranking: d2, d3, ...; relevant: d2 (gain 2), d3 (gain 1) -> ideal order, nDCG = 1
    relevant = [{1: 1}, {2: 2, 3: 1}]
    result = metrics.retrieval(queries, documents, relevant)
    assert result["ndcg_at_10"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert result["mrr_at_10"] == pytest.approx((0.5 + 1) / 2)
    assert result["recall_at_100"] == pytest.approx(1.0)


def test_classification_separable_toy_is_perfect():
    rng = np.random.default_rng(0)
    centers = np.eye(3, 8) * 5
    train_labels = np.repeat(np.array(["a", "b", "c"]), 20)
    train = centers[np.repeat(np.arange(3), 20)] + rng.normal(0, 0.1, (60, 8))
    test = centers[[0, 1, 2, 2]] + rng.normal(0, 0.1, (4, 8))
    result = metrics.classification(train, train_labels, test, np.array(["a", "b", "c", "c"]), experiments=3)
    assert result == {"accuracy": 1.0, "f1": 1.0}


def test_clustering_perfect_and_random():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    separated = np.eye(4, 16)[labels] * 10 + rng.normal(0, 0.01, (200, 16))
    assert metrics.clustering(separated, labels, experiments=2)["v_measure"] == pytest.approx(1.0)
    assert metrics.clustering(rng.normal(size=(200, 16)), labels, experiments=2)["v_measure"] < 0.2


def test_bitext_mining_f1_by_hand():
    source = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    target = unit([1, 0, 0], [1, 0.05, 0], [0, 0.1, 1])  # row 1 is nearest to target 2: predictions 0, 2, 2
    result = metrics.bitext_mining(source, target)
    assert result["accuracy"] == pytest.approx(2 / 3)
    # per gold label: 0 -> p=r=1; 1 -> predicted never, p=0 (zero_division), r=0; 2 -> p=1/2, r=1
    assert result["f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)


def test_a_multi_vector_document_scores_its_best_row():
    max_sim = metrics.max_sim

    queries = np.eye(3, dtype=np.float32)
    documents = [
        np.eye(3, dtype=np.float32)[[0, 1]],
        np.eye(3, dtype=np.float32)[[2]],
        0.5 * np.ones((2, 3), np.float32),
    ]
    np.testing.assert_allclose(max_sim(queries, documents), [[1, 0, 0.5], [1, 0, 0.5], [0, 1, 0.5]])
    single = metrics.retrieval(queries, np.stack([d[0] for d in documents]), [{0: 1}, {0: 1}, {1: 1}])
    multi = metrics.retrieval(queries, documents, [{0: 1}, {0: 1}, {1: 1}])
    assert multi["ndcg_at_10"] == 1.0 and single["ndcg_at_10"] < 1.0  # query 1 finds document 0 by its second row
