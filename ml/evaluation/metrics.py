"""Ranking metrics: the only metric definitions in the repository.

Conventions (stated because libraries differ):
- `recommended` is a ranked sequence of item ids (best first), `relevant` a set of item ids.
- All metrics are per user, in [0, 1], and averaged over users that have at least one relevant item;
  a user with no relevant items is not evaluated (callers filter them out).
- recall@k = |top-k ∩ relevant| / |relevant|  (not min(k, |relevant|): a user with 30 purchases
  cannot reach 1.0 at k=10, which keeps recall comparable across k).
- precision is not reported; hit_rate@k = 1 if any of the top-k is relevant.
- ndcg@k uses binary gains and log2(rank + 1) discounts; the ideal DCG places min(k, |relevant|)
  relevant items first.
- map@k (average precision at k) = sum over hits at rank r of precision@r, divided by
  min(k, |relevant|).
- coverage = distinct items recommended to anyone / catalog size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def recall_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    if not relevant:
        raise ValueError("relevant: empty set; users without relevant items are not evaluated")
    hits = sum(1 for item in recommended[:k] if item in relevant)
    return hits / len(relevant)


def hit_rate_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    return float(any(item in relevant for item in recommended[:k]))


def ndcg_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    if not relevant:
        raise ValueError("relevant: empty set; users without relevant items are not evaluated")
    dcg = sum(
        1.0 / np.log2(rank + 2) for rank, item in enumerate(recommended[:k]) if item in relevant
    )
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def average_precision_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    if not relevant:
        raise ValueError("relevant: empty set; users without relevant items are not evaluated")
    hits, total = 0, 0.0
    for rank, item in enumerate(recommended[:k]):
        if item in relevant:
            hits += 1
            total += hits / (rank + 1)
    return total / min(k, len(relevant))


def catalog_coverage(recommendations: Iterable[Sequence], catalog_size: int, k: int) -> float:
    if catalog_size <= 0:
        raise ValueError("catalog_size: must be positive")
    shown = set()
    for recommended in recommendations:
        shown.update(recommended[:k])
    return len(shown) / catalog_size


def ranking_report(truth: dict, recommendations: dict, catalog_size: int) -> dict[str, float]:
    """The metric row of every model: NDCG@10, Recall@10/@20, MAP@10, HitRate@10, coverage.

    `truth` maps user -> set of relevant items (users with an empty set are skipped);
    `recommendations` maps user -> ranked items (at least 20 where the catalog allows).
    """
    users = [u for u, items in truth.items() if items]
    if not users:
        raise ValueError("truth: no user has a relevant item in this window")
    rows = np.array(
        [
            (
                ndcg_at_k(truth[u], recommendations[u], 10),
                recall_at_k(truth[u], recommendations[u], 10),
                recall_at_k(truth[u], recommendations[u], 20),
                average_precision_at_k(truth[u], recommendations[u], 10),
                hit_rate_at_k(truth[u], recommendations[u], 10),
            )
            for u in users
        ]
    )
    means = rows.mean(axis=0)
    return {
        "ndcg@10": float(means[0]),
        "recall@10": float(means[1]),
        "recall@20": float(means[2]),
        "map@10": float(means[3]),
        "hit_rate@10": float(means[4]),
        "coverage@10": catalog_coverage((recommendations[u] for u in users), catalog_size, 10),
        "users": len(users),
    }
