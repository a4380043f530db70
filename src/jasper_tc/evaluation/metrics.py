"""Metrics per task type, computed from embeddings as MTEB defines them (each function says how).

Pure functions of arrays: embeddings are L2-normalised rows, so a dot product is a cosine.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bitext_mining",
    "classification",
    "clustering",
    "pair_classification",
    "retrieval",
    "sts",
]


def _cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


def sts(first: np.ndarray, second: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Spearman (and Pearson) correlation of pair cosine with the gold scores (MTEB: ``cosine_spearman``)."""
    from scipy.stats import pearsonr, spearmanr

    scores = _cosine_pairs(first, second)
    return {
        "cosine_spearman": float(spearmanr(scores, gold).statistic),
        "cosine_pearson": float(pearsonr(scores, gold).statistic),
    }


def pair_classification(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Average precision of pair cosine against 0/1 labels (MTEB: ``cosine_ap``; its ``max_ap`` takes the
    best of cosine, dot, Euclidean and Manhattan, which agree for normalised embeddings up to order)."""
    from sklearn.metrics import average_precision_score

    return {"cosine_ap": float(average_precision_score(labels, _cosine_pairs(first, second)))}


def max_sim(queries: np.ndarray, documents: list[np.ndarray]) -> np.ndarray:
    """``(q, N)`` scores of multi-vector documents: each query against a document's best row."""
    lengths = np.array([len(d) for d in documents])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = queries @ np.concatenate(documents).T  # (q, sum of rows)
    return np.maximum.reduceat(rows, starts, axis=1)


def retrieval(
    queries: np.ndarray,
    documents: np.ndarray | list[np.ndarray],
    relevant: list[dict[int, int]],
    *,
    ndcg_at: int = 10,
    recall_at: int = 100,
    mrr_at: int = 10,
) -> dict[str, float]:
    """Exact cosine search; nDCG@10 (gain = graded relevance, log2 discount, as pytrec_eval/MTEB),
    recall@100 and MRR@10, averaged over queries.

    ``relevant[q]`` maps document rows to relevance (> 0) for query row ``q``. ``documents`` as a list of
    ``(k, D)`` arrays is multi-vector: a document scores its best row (:func:`max_sim`).
    """
    depth = min(max(ndcg_at, recall_at, mrr_at), len(documents))
    ndcg, recall, mrr = [], [], []
    for start in range(0, len(queries), 1024):
        block = queries[start : start + 1024]
        scores = max_sim(block, documents) if isinstance(documents, list) else block @ documents.T  # (q, N)
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        for row, candidates in enumerate(top):
            ranked = candidates[np.argsort(-scores[row, candidates], kind="stable")]
            rel = relevant[start + row]
            gains = np.array([rel.get(int(d), 0) for d in ranked], dtype=np.float64)
            discounts = 1.0 / np.log2(np.arange(2, len(ranked) + 2))
            ideal = np.sort(np.array(list(rel.values()), dtype=np.float64))[::-1][:ndcg_at]
            idcg = float(np.sum(ideal * discounts[: len(ideal)]))
            ndcg.append(float(np.sum((gains * discounts)[:ndcg_at]) / idcg) if idcg > 0 else 0.0)
            relevant_total = sum(1 for v in rel.values() if v > 0)
            recall.append(float(np.sum(gains[:recall_at] > 0) / relevant_total) if relevant_total else 0.0)
            hits = np.flatnonzero(gains[:mrr_at] > 0)
            mrr.append(1.0 / (hits[0] + 1) if hits.size else 0.0)
    return {
        f"ndcg_at_{ndcg_at}": float(np.mean(ndcg)),
        f"recall_at_{recall_at}": float(np.mean(recall)),
        f"mrr_at_{mrr_at}": float(np.mean(mrr)),
    }


def classification(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    *,
    samples_per_label: int | None = 8,
    experiments: int = 10,
    seed: int = 42,
) -> dict[str, float]:
    """Logistic regression (``max_iter=100``) on frozen embeddings, as MTEB: each of ``experiments`` runs
    trains on ``samples_per_label`` random examples per label (None: all), scores accuracy and macro-F1
    on the test set; the means are reported."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(seed)
    accuracy, f1 = [], []
    for _ in range(experiments if samples_per_label else 1):
        if samples_per_label:
            picks = np.concatenate(
                [
                    rng.permutation(np.flatnonzero(train_labels == label))[:samples_per_label]
                    for label in np.unique(train_labels)
                ]
            )
        else:
            picks = np.arange(len(train))
        model = LogisticRegression(max_iter=100)
        model.fit(train[picks], train_labels[picks])
        predicted = model.predict(test)
        accuracy.append(accuracy_score(test_labels, predicted))
        f1.append(f1_score(test_labels, predicted, average="macro"))
    return {"accuracy": float(np.mean(accuracy)), "f1": float(np.mean(f1))}


def clustering(
    embeddings: np.ndarray, labels: np.ndarray, *, experiments: int = 10, sample: int = 2048, seed: int = 42
) -> dict[str, float]:
    """V-measure of mini-batch k-means (k = number of labels, batch 512, one init) against the labels,
    averaged over ``experiments`` random subsets of ``sample`` rows (MTEB's fast clustering)."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score

    rng = np.random.default_rng(seed)
    k = len(np.unique(labels))
    scores = []
    for experiment in range(experiments):
        rows = rng.permutation(len(embeddings))[: min(sample, len(embeddings))]
        kmeans = MiniBatchKMeans(n_clusters=k, batch_size=512, n_init=1, random_state=seed + experiment)
        scores.append(v_measure_score(labels[rows], kmeans.fit_predict(embeddings[rows])))
    return {"v_measure": float(np.mean(scores)), "v_measure_std": float(np.std(scores))}


def bitext_mining(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Each source row's nearest target row by cosine; gold = the same row. F1 (macro over gold rows,
    as MTEB computes with scikit-learn), precision, recall and accuracy."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    predicted = np.argmax(source @ target.T, axis=1)
    gold = np.arange(len(source))
    return {
        "f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
        "precision": float(precision_score(gold, predicted, average="macro", zero_division=0)),
        "recall": float(recall_score(gold, predicted, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(gold, predicted)),
    }
