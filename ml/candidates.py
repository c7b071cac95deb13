"""Candidate generation: nine sources, each proposing items a user may buy next.

- `als`: implicit-feedback ALS (`implicit`) on event-type weights with time decay.
- `content`: item-to-item similarity of title, description, category path, brand and price band
  (TF-IDF, cosine); reaches items nobody has bought yet and answers "similar items".
- `copurchase`: items bought (or viewed) in the same basket as the user's items.
- `itemknn`: item-item neighbours of who interacted with what (implicit's BM25).
- `ease`: EASE's closed-form item-item weights, where the catalog fits in memory.
- `sequence`: what users engaged with next after the items of the user's latest steps.
- `repeat`: the user's own past purchases, decayed; strong where shops sell consumables.
- `trending`: what many users engaged with in the last days before the cutoff.
- `segment`: the most popular items of the user's favourite category (a taste segment).

The item-to-item sources score a user's decayed history (the sequence source: the order-weighted
latest steps) times neighbour matrices of at most `neighbors` entries per item (`ml.neighbors`).
`fit_index` learns every source from events strictly before a cutoff and the split's point-in-time
features (`ml.point_in_time`: the decayed history, purchases, popularity and trending, built by
dbt for the same cutoffs); `CandidateIndex.candidates`
returns the union of the sources' top items per user with each source's score and rank, the input of
the re-ranker (`ml.ranking.features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import implicit.cpu.als
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ml.data import Catalog, EventLog
from ml.kernels import factor_scores, top_k_rows
from ml.neighbors import (
    content_neighbors,
    copurchase_neighbors,
    ease_neighbors,
    itemknn_neighbors,
    recent_profile,
    sequence_neighbors,
)
from ml.point_in_time import PointInTimeFeatures

SOURCES = ("als", "content", "copurchase", "itemknn", "ease", "sequence", "repeat", "trending",
           "segment")
# The sources that score a profile times an items x items neighbour matrix, and that profile.
NEIGHBOR_SOURCES = {"content": "history", "copurchase": "history", "itemknn": "history",
                    "ease": "history", "sequence": "recent"}
CHUNK = 1024  # users (or items) per dense block: bounds memory at CHUNK x n_items floats


@dataclass(frozen=True)
class AlsParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0  # confidence = 1 + alpha * decayed weight
    iterations: int = 15
    seed: int = 7


@dataclass(frozen=True)
class CandidateParams:
    per_source: int = 40  # candidates each source proposes per user
    neighbors: int = 50  # item-to-item neighbours kept per item (every NEIGHBOR_SOURCES one)
    itemknn_k: int = 50  # neighbours the itemknn source keeps per item (<= 200: serving cost)
    itemknn_k1: float = 1.2  # BM25 term saturation
    itemknn_b: float = 0.75  # BM25 length normalisation
    ease_l2: float = 250.0  # EASE's ridge penalty
    ease_max_items: int = 10_000  # above: no EASE (its dense inverse is items x items)
    sequence_window: int = 3  # steps ahead that count as "next", and latest steps in the profile


@dataclass
class CandidateIndex:
    """Everything the sources learned from the events before `cutoff` (seconds since epoch)."""

    cutoff: float
    params: CandidateParams
    catalog: Catalog
    user_ids: np.ndarray
    history: sp.csr_matrix  # users x items: decayed, event-weighted interactions (>= 0)
    purchases: sp.csr_matrix  # users x items: decayed purchase counts (the repeat source)
    purchase_counts: sp.csr_matrix  # users x items: plain purchase counts
    last_seen_days: sp.csr_matrix  # users x items: 1 + days between last interaction and cutoff
    user_factors: np.ndarray
    item_factors: np.ndarray
    content_neighbors: sp.csr_matrix  # items x items, top-k cosine
    copurchase_neighbors: sp.csr_matrix  # items x items, top-k normalised co-occurrence
    itemknn_neighbors: sp.csr_matrix  # items x items, top-k BM25 similarity
    ease_neighbors: sp.csr_matrix  # items x items, top-k EASE weights (empty: EASE skipped)
    sequence_neighbors: sp.csr_matrix  # items x items, top-k "what comes next"
    recent: sp.csr_matrix  # users x items: order-weighted items of the latest steps
    popularity: np.ndarray  # items: decayed engagement of all users
    trending: np.ndarray  # items: the same with a short half-life
    user_segment: np.ndarray  # users: index of their favourite category
    category_codes: np.ndarray  # items: index into categories
    categories: np.ndarray
    item_stats: pd.DataFrame  # per item, in index order (see ml.ranking.features.FEATURES)
    user_stats: pd.DataFrame  # per user, in index order
    user_category_share: np.ndarray  # users x categories
    user_category_days: np.ndarray  # users x categories: days since last interaction (NaN: never)

    @property
    def item_factors_t(self) -> np.ndarray:
        """factors x items, C-contiguous: the layout `factor_scores` reads row by row."""
        if not hasattr(self, "_item_factors_t"):
            self._item_factors_t = np.ascontiguousarray(self.item_factors.T)
        return self._item_factors_t

    @property
    def user_index(self) -> dict[str, int]:
        if not hasattr(self, "_user_index"):
            self._user_index = {u: i for i, u in enumerate(self.user_ids.tolist())}
        return self._user_index

    def has_history(self, users: int | np.ndarray) -> np.ndarray:
        """Whether each user (an index or an array of them) has any interaction before the
        cutoff: the users the ranker personalizes for; the others get the fallback."""
        if not hasattr(self, "_has_history"):
            self._has_history = np.diff(self.history.indptr) > 0
        return self._has_history[users]

    def source_scores(self, source: str, users: np.ndarray) -> np.ndarray:
        """Dense users x items scores of one source (0 = not proposed)."""
        if source == "als":
            return factor_scores(self.user_factors, np.asarray(users, dtype=np.int64),
                                 self.item_factors_t)
        if source in NEIGHBOR_SOURCES:
            profile = getattr(self, NEIGHBOR_SOURCES[source])
            return (_profile(profile, users) @ getattr(self, f"{source}_neighbors")).toarray()
        if source == "repeat":
            return self.purchases[users].toarray()
        if source == "trending":
            return np.broadcast_to(self.trending, (len(users), self.catalog.size))
        if source == "segment":
            same = self.category_codes[None, :] == self.user_segment[users][:, None]
            return np.where(same, self.popularity[None, :], 0.0)
        raise ValueError(f"source: {source!r} is not one of {SOURCES}")

    def candidates(
        self, users: np.ndarray, sources: tuple[str, ...] = SOURCES, exclude_purchased: bool = False
    ) -> pd.DataFrame:
        """Union of each source's top `per_source` items per user.

        Columns: user, item, and per source `<source>_score` (0 when the source did not propose
        the item) and `<source>_rank` (1-based; NaN when not proposed). Sorted by user, item.
        """
        n = self.params.per_source
        n_items = self.catalog.size
        proposed: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
            source: [] for source in sources}  # per source and block: pair keys, scores, ranks
        for start in range(0, len(users), CHUNK):
            block = users[start : start + CHUNK]
            excluded = self.purchase_counts[block].toarray() > 0 if exclude_purchased else None
            for source in sources:
                scores = _dense(self.source_scores(source, block))
                if excluded is not None:
                    scores = np.where(excluded, 0.0, scores)
                top, top_scores = top_k(scores, n)
                ranks = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)
                keep = top_scores > 0 if source != "als" else np.isfinite(top_scores)
                if excluded is not None and source == "als":
                    keep &= ~np.take_along_axis(excluded, top, axis=1)
                rows = np.broadcast_to(np.asarray(block, dtype=np.int64)[:, None], top.shape)
                proposed[source].append((rows[keep] * n_items + top[keep], top_scores[keep],
                                         ranks[keep]))
        # The union of every source's pairs, sorted by user then item (key = user x items + item)
        keys = {source: np.concatenate([k for k, _, _ in parts] or [np.zeros(0, np.int64)])
                for source, parts in proposed.items()}
        union = np.unique(np.concatenate([np.zeros(0, np.int64), *keys.values()]))
        columns: dict[str, np.ndarray] = {"user": union // n_items, "item": union % n_items}
        for source, parts in proposed.items():
            at = np.searchsorted(union, keys[source])
            columns[f"{source}_score"] = np.zeros(len(union))
            columns[f"{source}_score"][at] = np.concatenate([s for _, s, _ in parts] or [[]])
            columns[f"{source}_rank"] = np.full(len(union), np.nan)
            columns[f"{source}_rank"][at] = np.concatenate([r for _, _, r in parts] or [[]])
        order = ["user", "item", *[f"{s}_{kind}" for s in sources for kind in ("score", "rank")]]
        return pd.DataFrame({name: columns[name] for name in order})


def fit_index(
    log: EventLog,
    catalog: Catalog,
    cutoff: float,
    als: AlsParams,
    params: CandidateParams,
    features: PointInTimeFeatures,
) -> CandidateIndex:
    """Learn every source from `log.before(cutoff)` and the split's point-in-time `features`
    (ml.point_in_time): the confidence ALS and the neighbour sources learn from, purchases,
    popularity and trending are dbt's, as of the same cutoffs; the event order (co-purchase,
    sequence) is the log's."""
    log = log.before(cutoff)
    n_items = catalog.size
    if features.history.shape != (log.n_users, n_items):
        raise ValueError(f"features {features.key}: {features.history.shape} users x items, "
                         f"the log and catalog have {(log.n_users, n_items)}")
    history = features.history
    user_factors, item_factors = fit_als(history, als)
    categories, category_codes = np.unique(catalog.category, return_inverse=True)
    ease, _ = ease_neighbors(history, params.neighbors, params.ease_l2, params.ease_max_items)
    return CandidateIndex(
        cutoff=cutoff,
        params=params,
        catalog=catalog,
        user_ids=log.user_ids,
        history=history,
        purchases=features.purchases,
        purchase_counts=features.purchase_counts,
        last_seen_days=features.last_seen_days,
        user_factors=user_factors,
        item_factors=item_factors,
        content_neighbors=_content_neighbors(catalog, params.neighbors),
        copurchase_neighbors=copurchase_neighbors(log, n_items, params.neighbors),
        itemknn_neighbors=itemknn_neighbors(history, params.itemknn_k, params.itemknn_k1,
                                            params.itemknn_b),
        ease_neighbors=ease,
        sequence_neighbors=sequence_neighbors(log, n_items, params.neighbors,
                                              params.sequence_window),
        recent=recent_profile(log, n_items, params.sequence_window),
        popularity=features.popularity,
        trending=features.trending,
        # the favourite category: the largest share of the user's confidence (0 without any)
        user_segment=features.user_category_share.argmax(axis=1),
        category_codes=category_codes,
        categories=categories,
        item_stats=features.item_stats,
        user_stats=features.user_stats,
        user_category_share=features.user_category_share,
        user_category_days=features.user_category_days,
    )


_content: list = []  # the last (catalog, k, neighbours): every fit of a run shares its catalog


def _content_neighbors(catalog: Catalog, k: int) -> sp.csr_matrix:
    """`content_neighbors`, computed once per catalog (they depend on nothing else)."""
    if not (_content and _content[0] is catalog and _content[1] == k):
        _content[:] = [catalog, k, content_neighbors(catalog, k)]
    return _content[2]


def fit_als(history: sp.csr_matrix, params: AlsParams) -> tuple[np.ndarray, np.ndarray]:
    """implicit's CPU ALS on users x items confidences; one BLAS thread (implicit uses OpenMP)."""
    model = implicit.cpu.als.AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=params.seed,
        calculate_training_loss=False,
    )
    with threadpool_limits(1, "blas"):
        model.fit(history, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k best columns (best first; ties by lower column) and their scores."""
    return top_k_rows(np.ascontiguousarray(scores), k)


def _profile(history: sp.csr_matrix, users: np.ndarray) -> sp.csr_matrix:
    return normalize(history[users], norm="l1")


def _dense(scores) -> np.ndarray:
    if sp.issparse(scores):
        return scores.toarray()
    return np.asarray(scores, dtype=np.float64)


