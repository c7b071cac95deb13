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


def hits_at_k(truth: Sequence[set], recommended: Sequence[Sequence], k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """users x k booleans (is the item at each rank relevant; False past a short list) and each
    user's count of relevant items: what every metric below is computed from."""
    relevant = np.fromiter((len(items) for items in truth), dtype=np.int64, count=len(truth))
    if (relevant == 0).any():
        raise ValueError("relevant: empty set; users without relevant items are not evaluated")
    hits = np.zeros((len(truth), k), dtype=bool)
    for row, (items, ranked) in enumerate(zip(truth, recommended, strict=True)):
        for rank, item in enumerate(ranked[:k]):
            if item in items:
                hits[row, rank] = True
    return hits, relevant


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)


def recalls(hits: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / relevant


def hit_rates(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].any(axis=1).astype(np.float64)


def ndcgs(hits: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    discounts = _discounts(k)
    ideal = np.cumsum(discounts)[np.minimum(relevant, k) - 1]
    return (hits[:, :k] * discounts).sum(axis=1) / ideal


def average_precisions(hits: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    top = hits[:, :k]
    precision = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    return (precision * top).sum(axis=1) / np.minimum(relevant, k)


def recall_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    hits, count = hits_at_k([relevant], [recommended], k)
    return float(recalls(hits, count, k)[0])


def hit_rate_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    hits, _ = hits_at_k([relevant], [recommended], k)
    return float(hit_rates(hits, k)[0])


def ndcg_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    hits, count = hits_at_k([relevant], [recommended], k)
    return float(ndcgs(hits, count, k)[0])


def average_precision_at_k(relevant: set, recommended: Sequence, k: int) -> float:
    hits, count = hits_at_k([relevant], [recommended], k)
    return float(average_precisions(hits, count, k)[0])


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
    hits, relevant = hits_at_k([truth[u] for u in users], [recommendations[u] for u in users], 20)
    return {
        "ndcg@10": float(ndcgs(hits, relevant, 10).mean()),
        "recall@10": float(recalls(hits, relevant, 10).mean()),
        "recall@20": float(recalls(hits, relevant, 20).mean()),
        "map@10": float(average_precisions(hits, relevant, 10).mean()),
        "hit_rate@10": float(hit_rates(hits, 10).mean()),
        "coverage@10": catalog_coverage((recommendations[u] for u in users), catalog_size, 10),
        "users": len(users),
    }
