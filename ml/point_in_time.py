"""Point-in-time features: what the models know of users and items at a split's cutoffs.

The features are defined once, in dbt (`transforms/models/features`, the `ml_pit_*` tables): the
user-item confidence every source learns from (decayed event-type weights), purchases and
recency per pair, the user's RFM-style profile, the item's popularity, trending, conversion and
price, and the user's interest in and recency of each category. Each row has a `cutoff_id`, and
sees only the events of its user before that user's cutoff:

- `required_splits` lists every split the pipeline fits a model on (both protocols' validation
  folds and test, the served fit, and the re-ranker's per-user labels inside each);
- `cutoff_table` turns them into `features.cutoffs` (one row per split and user), which the
  `feature_cutoffs` asset writes and dbt builds the features from;
- `FeatureStore.at(split, ...)` reads one split's rows as the arrays `ml.candidates.fit_index`
  uses, and the bundle ships them for serving.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.data import Catalog, EventLog, Windows
from ml.evaluation.protocols import (
    PROTOCOLS,
    VALIDATION_FOLDS,
    Split,
    per_user_labels,
    protocol_split,
    serve_split,
)

USER_STATS = (
    "u_events",
    "u_purchases",
    "u_days_since_last",
    "u_monetary",
    "u_avg_price",
    "u_repeat_item_share",
)
# Not a ranker feature: how many purchases u_avg_price averages (serving adds live purchases).
PRICED_PURCHASES = "u_priced_purchases"
ITEM_STATS = (
    "i_popularity",
    "i_trending",
    "i_purchases",
    "i_views",
    "i_conversion",
    "i_repeat_buyer_share",
    "i_price",
    "i_age_days",
)
TABLES = {
    "user_item": "ml_pit_user_item_features",
    "user": "ml_pit_user_features",
    "item": "ml_pit_item_features",
    "user_category": "ml_pit_user_category_features",
}
CUTOFF_COLUMNS = ("cutoff_id", "user_id", "cutoff_seconds", "shop_cutoff_seconds")
_KEY = re.compile(r"^[a-z_]+(/[a-z0-9_]+)*$")


@dataclass(frozen=True)
class PointInTimeFeatures:
    """One split's features, indexed like its event log (users) and catalog (items)."""

    key: str
    history: sp.csr_matrix  # users x items: ui_confidence (zeros dropped)
    purchases: sp.csr_matrix  # ui_decayed_purchases
    purchase_counts: sp.csr_matrix  # ui_purchases
    last_seen_days: sp.csr_matrix  # 1 + ui_days_since_last, for every pair with an event
    user_stats: pd.DataFrame  # USER_STATS and PRICED_PURCHASES, one row per user
    item_stats: pd.DataFrame  # ITEM_STATS, one row per item
    popularity: np.ndarray  # per item: popularity_score (the popularity and segment sources)
    trending: np.ndarray  # per item: trending_score (the trending source)
    user_category_share: np.ndarray  # users x categories (np.unique(catalog.category) order)
    user_category_days: np.ndarray  # days since the last event in it; NaN where none


def required_splits(log: EventLog, windows: Windows) -> list[Split]:
    """Every split the pipeline fits on (tuning, contenders, selection, the challenger), each
    followed by the re-ranker's per-user labels inside it."""
    splits = [serve_split(log, windows.as_of + 1)]
    for protocol in PROTOCOLS:
        splits.append(protocol_split(log, windows, protocol, "test"))
        splits += [protocol_split(log, windows, protocol, "validation", fold)
                   for fold in range(VALIDATION_FOLDS)]
    return [s for split in splits for s in (split, per_user_labels(log, split))]


def cutoff_table(log: EventLog, splits: list[Split]) -> pd.DataFrame:
    """features.cutoffs: per split and user of `log`, the user's cutoff and the shop's (seconds).
    A split whose visible events are not exactly those before each user's cutoff is refused:
    the features would describe something else than what its models see."""
    frames = []
    for split in splits:
        if not _KEY.match(split.key):
            raise ValueError(f"split.key: {split.key!r} is not a cutoff id (a/b/c, lower case)")
        now = split.now(log.n_users)
        if not np.array_equal(split.visible, log.time < now[log.user]):
            raise ValueError(f"split {split.key}: its visible events are not those before each "
                             "user's cutoff")
        frames.append(pd.DataFrame({"cutoff_id": split.key, "user_id": log.user_ids.astype(str),
                                    "cutoff_seconds": now.astype(np.float64),
                                    "shop_cutoff_seconds": float(split.cutoff)}))
    if len({split.key for split in splits}) != len(splits):
        raise ValueError("split.key: two splits share a cutoff id")
    return pd.concat(frames, ignore_index=True)[list(CUTOFF_COLUMNS)]


class FeatureStore:
    """Reads splits' features from the `ml_pit_*` tables through `query(sql, parameters)` (a
    DataFrame back), and keeps what it read: tuning and evaluation fit many models per split."""

    def __init__(self, query: Callable[[str, list], pd.DataFrame]) -> None:
        self._query = query
        # cutoff id -> (each user's cutoff and the shop's they were built for, the features)
        self._read: dict[str, tuple[np.ndarray, set[float], PointInTimeFeatures]] = {}

    def at(self, split: Split, log: EventLog, catalog: Catalog) -> PointInTimeFeatures:
        """`split`'s features. The cutoffs they were built for must be the split's own, user by
        user: features of another log, or of an older features.cutoffs, are refused."""
        if split.key not in self._read:
            built = self._query("select user_id, cutoff_seconds, shop_cutoff_seconds from "
                                "features.cutoffs where cutoff_id = ?", [split.key])
            if built.empty and log.n_users:
                raise KeyError(f"cutoff_id {split.key!r}: no point-in-time features; the "
                               "feature_cutoffs asset lists the splits they are built for")
            now = np.full(log.n_users, np.nan)
            now[_positions(log.user_ids, built["user_id"], "user_id")] = built["cutoff_seconds"]
            shop = set(built["shop_cutoff_seconds"].tolist()) or {float(split.cutoff)}
            frames = {name: self._query(f"select * from main.{table} where cutoff_id = ?",
                                        [split.key])
                      for name, table in TABLES.items()}
            self._read[split.key] = (now, shop, from_frames(split.key, frames, log, catalog))
        now, shop, features = self._read[split.key]
        if not np.array_equal(now, split.now(log.n_users)) or shop != {float(split.cutoff)}:
            raise ValueError(f"cutoff_id {split.key!r}: the point-in-time features were built "
                             "for other cutoffs than this split's (rerun feature_cutoffs and the "
                             "point-in-time dbt models)")
        return features


def from_frames(key: str, frames: dict[str, pd.DataFrame], log: EventLog, catalog: Catalog
                ) -> PointInTimeFeatures:
    """The `TABLES` rows of one cutoff id as arrays: users by `log.user_ids`, items by
    `catalog.item_ids`, categories by `np.unique(catalog.category)`."""
    shape = (log.n_users, catalog.size)
    pairs = frames["user_item"]
    users = _positions(log.user_ids, pairs["user_id"], "user_id")
    items = _positions(catalog.item_ids, pairs["item_id"], "item_id")

    def matrix(values: np.ndarray, drop_zeros: bool = True) -> sp.csr_matrix:
        result = sp.csr_matrix((np.asarray(values, dtype=np.float32), (users, items)), shape=shape)
        if drop_zeros:
            result.eliminate_zeros()
        return result

    user_rows = frames["user"]
    user_stats = _reindexed(user_rows, _positions(log.user_ids, user_rows["user_id"], "user_id"),
                            (*USER_STATS, PRICED_PURCHASES), log.n_users, "user")
    item_rows = frames["item"]
    items_frame = _reindexed(item_rows,
                             _positions(catalog.item_ids, item_rows["item_id"], "item_id"),
                             (*ITEM_STATS, "popularity_score", "trending_score"), catalog.size,
                             "item")
    categories = np.unique(catalog.category)
    interest = frames["user_category"]
    at = (_positions(log.user_ids, interest["user_id"], "user_id"),
          _positions(categories, interest["category"], "category"))
    share = np.zeros((log.n_users, len(categories)), dtype=np.float64)
    share[at] = interest["uc_share"].to_numpy(dtype=np.float64)
    days = np.full((log.n_users, len(categories)), np.nan, dtype=np.float32)
    days[at] = interest["uc_days_since_last"].to_numpy(dtype=np.float32)
    return PointInTimeFeatures(
        key=key,
        history=matrix(pairs["ui_confidence"]),
        purchases=matrix(pairs["ui_decayed_purchases"]),
        purchase_counts=matrix(pairs["ui_purchases"]),
        last_seen_days=matrix(1.0 + pairs["ui_days_since_last"].to_numpy(), drop_zeros=False),
        user_stats=user_stats,
        item_stats=items_frame[list(ITEM_STATS)],
        popularity=items_frame["popularity_score"].to_numpy(),
        trending=items_frame["trending_score"].to_numpy(),
        user_category_share=share,
        user_category_days=days,
    )


def _positions(ids: np.ndarray, values: pd.Series, field: str) -> np.ndarray:
    """Index of each value in the (unique) `ids`; a value that is not there is an error."""
    values = values.astype(str).to_numpy()
    at = pd.Index(ids.astype(str)).get_indexer(values)
    if (at < 0).any():
        raise ValueError(f"{field}: {values[at < 0][0]!r} is in the point-in-time features but "
                         "not in the event log or catalog they are read for")
    return at


def _reindexed(rows: pd.DataFrame, at: np.ndarray, columns: tuple[str, ...], n: int, what: str
               ) -> pd.DataFrame:
    if len(np.unique(at)) != n or len(at) != n:
        raise ValueError(f"{what} features: {len(np.unique(at))} of {n} {what}s have one row")
    frame = rows[list(columns)].astype(np.float64).set_axis(at)
    return frame.sort_index().reset_index(drop=True)
