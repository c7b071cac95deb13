"""Recommenders built on a candidate index: the contenders of model selection.

A contender is the hybrid (the union of every source's candidates, re-ranked by XGBoost) or one
candidate source alone (`popularity` is the trending source). Every recommender answers
`recommend(users, k, exclude_purchased)` with, per user, ranked item indices, their scores and the
reason (the source that proposed the item most strongly). The offline evaluation and the serving
bundle call the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from ml.candidates import SOURCES, CandidateIndex, top_k
from ml.ranking.features import pair_features, score_pairs

# The source each single-source contender ranks by: every source, `trending` named popularity.
SOURCE_OF = {("popularity" if s == "trending" else s): s for s in SOURCES}
CONTENDERS = ("hybrid", *SOURCE_OF)
# What a shop gets without us: the baselines every report shows first.
BASELINES = ("popularity", "repeat", "als")


@dataclass(frozen=True)
class Recommendations:
    users: np.ndarray
    items: list[np.ndarray]  # per user, best first
    scores: list[np.ndarray]
    reasons: list[list[str]]

    def as_dict(self) -> dict[int, list[int]]:
        return {int(u): items.tolist() for u, items in zip(self.users, self.items, strict=True)}


@dataclass
class FittedContender:
    """A fitted contender: the candidate index and, for the hybrid, its re-ranker."""

    index: CandidateIndex
    booster: xgb.Booster | None
    contender: str = "hybrid"

    def __post_init__(self) -> None:
        if self.contender not in CONTENDERS:
            raise ValueError(f"contender: {self.contender!r} is not one of {CONTENDERS}")
        if (self.booster is None) != (self.contender != "hybrid"):
            raise ValueError("booster: the hybrid needs one, a single source has none")

    @property
    def source(self) -> str | None:
        """The one source a single-source contender ranks by; None for the hybrid."""
        return SOURCE_OF.get(self.contender)

    def recommend(
        self,
        users: np.ndarray,
        k: int,
        exclude_purchased: bool = False,
        candidates: pd.DataFrame | None = None,
    ) -> Recommendations:
        if self.booster is None:
            return recommend_source(self.index, self.contender, users, k, exclude_purchased)
        pairs = (
            candidates
            if candidates is not None
            else self.index.candidates(users, exclude_purchased=exclude_purchased)
        )
        scores = score_pairs(self.booster, pair_features(self.index, pairs))
        reasons = _strongest_source(pairs)
        return _top_per_user(
            self.index,
            users,
            pairs["user"].to_numpy(),
            pairs["item"].to_numpy(),
            scores,
            reasons,
            k,
            exclude_purchased,
        )


def recommend_source(
    index: CandidateIndex, contender: str, users: np.ndarray, k: int,
    exclude_purchased: bool = False
) -> Recommendations:
    """One single-source contender (`SOURCE_OF`): its top k per user over the full catalog, padded
    with trending where it proposes fewer."""
    if contender not in SOURCE_OF:
        raise ValueError(f"contender: {contender!r} is not one of {tuple(SOURCE_OF)}")
    source = SOURCE_OF[contender]
    items, scores, reasons = [], [], []
    for start in range(0, len(users), 1024):
        block = users[start : start + 1024]
        matrix = np.array(index.source_scores(source, block), dtype=np.float64)
        if exclude_purchased:
            matrix[index.purchase_counts[block].toarray() > 0] = -np.inf
        top, top_scores = top_k(matrix, k)
        for row, row_scores in zip(top, top_scores, strict=True):
            valid = np.isfinite(row_scores) & ((row_scores > 0) | (source == "als"))
            items.append(row[valid])
            scores.append(row_scores[valid])
            reasons.append([source] * int(valid.sum()))
    recs = Recommendations(users, items, scores, reasons)
    return _pad_with_trending(index, recs, k, exclude_purchased)


def _strongest_source(pairs: pd.DataFrame) -> np.ndarray:
    ranks = pairs[[f"{s}_rank" for s in SOURCES]].to_numpy(dtype=np.float64)
    ranks = np.where(np.isnan(ranks), np.inf, ranks)
    return np.asarray(SOURCES)[ranks.argmin(axis=1)]


def _top_per_user(
    index: CandidateIndex,
    users: np.ndarray,
    pair_users: np.ndarray,
    pair_items: np.ndarray,
    scores: np.ndarray,
    reasons: np.ndarray,
    k: int,
    exclude_purchased: bool,
) -> Recommendations:
    order = np.lexsort((-scores, pair_users))
    pair_users, pair_items = pair_users[order], pair_items[order]
    scores, reasons = scores[order], reasons[order]
    starts = np.searchsorted(pair_users, users, side="left")
    ends = np.searchsorted(pair_users, users, side="right")
    items, top_scores, top_reasons = [], [], []
    for start, end in zip(starts, ends, strict=True):
        stop = min(end, start + k)
        items.append(pair_items[start:stop])
        top_scores.append(scores[start:stop])
        top_reasons.append(reasons[start:stop].tolist())
    return _pad_with_trending(
        index, Recommendations(users, items, top_scores, top_reasons), k, exclude_purchased
    )


def _pad_with_trending(
    index: CandidateIndex, recs: Recommendations, k: int, exclude_purchased: bool
) -> Recommendations:
    """`pad_with_trending` for every user of `recs`."""
    ranked_trending = np.argsort(-index.trending, kind="stable")
    bought = index.purchase_counts
    items, scores, reasons = [], [], []
    for user, row, row_scores, row_reasons in zip(
        recs.users, recs.items, recs.scores, recs.reasons, strict=True
    ):
        purchased = (
            bought.indices[bought.indptr[user] : bought.indptr[user + 1]]
            if exclude_purchased
            else None
        )
        row, row_scores, row_reasons = pad_with_trending(
            ranked_trending, row, row_scores, row_reasons, k, purchased
        )
        items.append(row)
        scores.append(row_scores)
        reasons.append(row_reasons)
    return Recommendations(recs.users, items, scores, reasons)


def pad_with_trending(
    ranked_trending: np.ndarray,
    items: np.ndarray,
    scores: np.ndarray,
    reasons: list[str],
    k: int,
    purchased: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One user's top k from their ranked `items`: cut to k or, when fewer, followed by the most
    trending items that are neither in `items` nor `purchased`, scored below all of them.
    `FittedContender`, the baselines and `ml.online.scorer.OnlineScorer` all pad with this."""
    if len(items) >= k:
        return items[:k], scores[:k], reasons[:k]
    taken = set(items.tolist())
    if purchased is not None:
        taken.update(purchased.tolist())
    # k + len(taken) trending items hold at least k that are not taken.
    fill = [i for i in ranked_trending[: k + len(taken)] if i not in taken][: k - len(items)]
    return (
        np.concatenate([items, np.asarray(fill, dtype=items.dtype if len(items) else int)]),
        np.concatenate([scores, scores_below(scores, len(fill))]),
        list(reasons) + ["trending"] * len(fill),
    )


def scores_below(scores: np.ndarray, n: int) -> np.ndarray:
    """n scores for what continues a ranked list: one apart, from min(scores) - 1 (-1 when
    `scores` is empty), so a fallback always ranks below what it continues."""
    floor = float(scores.min()) if len(scores) else 0.0
    return floor - 1.0 - np.arange(n, dtype=np.float64)
