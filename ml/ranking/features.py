"""The XGBoost learning-to-rank re-ranker over the union of candidates.

Features describe a (user, candidate item) pair as of the candidate index's cutoff: what each source
thought of it, and the point-in-time features dbt built for the cutoff (`ml.point_in_time`): the
user's history with the item and its category, the user's RFM-style profile and the item's
popularity, conversion and price relative to the user's usual spend. Labels are purchases
in a window after the cutoff; groups are users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from ml.candidates import SOURCES, CandidateIndex
from ml.kernels import pair_dots
from ml.point_in_time import ITEM_STATS, USER_STATS

FEATURES = (
    *[f"{s}_score" for s in SOURCES],
    *[f"{s}_rank" for s in SOURCES if s != "trending"],
    "n_sources",
    "als_dot",
    "ui_weight",
    "ui_purchases",
    "ui_days_since_last",
    "uc_share",
    "uc_days_since_last",
    *USER_STATS,
    *ITEM_STATS,
    "price_ratio",
)


@dataclass(frozen=True)
class RankerParams:
    # Serving walks every tree for every candidate (100-200 per request): its cost grows with
    # rounds x max_depth, so the defaults and the tuning space (ml/ranking/training.py) stay
    # small. The quality at this size: docs/benchmarks/quality.md.
    max_depth: int = 6
    learning_rate: float = 0.15
    rounds: int = 60
    objective: str = "rank:ndcg"
    min_child_weight: float = 10.0  # regularises small shops, where label groups are few
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    max_groups: int = 6000  # users sampled for training: bounds training time on big shops
    # Non-bought candidates kept per group (every bought one is): training time grows with the
    # rows, and on Online Retail 50 of ~180 ranked as well as all of them, in 2.4x less time.
    negatives_per_group: int = 50
    seed: int = 7

    def xgb_params(self) -> dict:
        return {
            "objective": self.objective,
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "tree_method": "hist",
            "seed": self.seed,
            "eval_metric": "ndcg@10",
            "nthread": 2,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def pair_features(index: CandidateIndex, pairs: pd.DataFrame) -> np.ndarray:
    """float32 matrix, one row per pair, columns in FEATURES order; NaN where unknown."""
    user = pairs["user"].to_numpy()
    item = pairs["item"].to_numpy()
    columns: dict[str, np.ndarray] = {}
    for source in SOURCES:
        columns[f"{source}_score"] = pairs[f"{source}_score"].to_numpy(dtype=np.float32)
        if source != "trending":
            columns[f"{source}_rank"] = pairs[f"{source}_rank"].to_numpy(dtype=np.float32)
    ranks = pairs[[f"{s}_rank" for s in SOURCES]].to_numpy()
    columns["n_sources"] = np.isfinite(ranks).sum(axis=1).astype(np.float32)
    columns["als_dot"] = pair_dots(index.user_factors, user, index.item_factors, item)
    columns["ui_weight"] = _lookup(index.history, user, item)
    columns["ui_purchases"] = _lookup(index.purchase_counts, user, item)
    last = _lookup(index.last_seen_days, user, item)
    columns["ui_days_since_last"] = np.where(last > 0, last - 1, np.nan)
    category = index.category_codes[item]
    columns["uc_share"] = index.user_category_share[user, category]
    columns["uc_days_since_last"] = index.user_category_days[user, category]
    for name in USER_STATS:
        columns[name] = index.user_stats[name].to_numpy()[user]
    for name in ITEM_STATS:
        columns[name] = index.item_stats[name].to_numpy()[item]
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["price_ratio"] = columns["i_price"] / columns["u_avg_price"]
    return np.column_stack([np.asarray(columns[f], dtype=np.float32) for f in FEATURES])


def labels_for(pairs: pd.DataFrame, truth: dict[int, set[int]]) -> np.ndarray:
    keys = set((u, i) for u, items in truth.items() for i in items)
    return np.fromiter(
        (
            (u, i) in keys
            for u, i in zip(pairs["user"].tolist(), pairs["item"].tolist(), strict=True)
        ),
        dtype=np.float32,
        count=len(pairs),
    )


def fit_ranker(
    features: np.ndarray, labels: np.ndarray, users: np.ndarray, params: RankerParams
) -> xgb.Booster:
    """Fit on groups (users, contiguous and sorted) that hold at least one positive: at most
    `max_groups` of them, each with its positives and at most `negatives_per_group` negatives."""
    positive_users = np.unique(users[labels > 0])
    if len(positive_users) == 0:
        raise ValueError("labels: no candidate was bought in the label window; nothing to learn")
    rng = np.random.default_rng(params.seed)
    if len(positive_users) > params.max_groups:
        positive_users = rng.choice(positive_users, params.max_groups, replace=False)
    keep = np.isin(users, positive_users) & sampled_negatives(users, labels,
                                                               params.negatives_per_group, rng)
    matrix = xgb.DMatrix(
        features[keep],
        label=labels[keep],
        qid=users[keep],
        feature_names=list(FEATURES),
        missing=np.nan,
    )
    return xgb.train(params.xgb_params(), matrix, num_boost_round=params.rounds)


def sampled_negatives(users: np.ndarray, labels: np.ndarray, per_group: int,
                      rng: np.random.Generator) -> np.ndarray:
    """A mask: every positive row, and at most `per_group` negative rows of each user, drawn at
    random (`users` sorted)."""
    negatives = rng.permutation(np.flatnonzero(labels == 0))
    negatives = negatives[np.argsort(users[negatives], kind="stable")]  # random within a user
    groups = users[negatives]
    place = np.arange(len(negatives)) - np.searchsorted(groups, groups, side="left")
    keep = labels > 0
    keep[negatives[place < per_group]] = True
    return keep


def score_pairs(booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
    return booster.inplace_predict(features, missing=np.nan)


def _lookup(matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[rows, cols]).ravel().astype(np.float32)
