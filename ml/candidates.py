"""Candidate generation: six sources, each proposing items a user may buy next.

- `als`: implicit-feedback ALS (`implicit`) on event-type weights with time decay.
- `content`: item-to-item similarity of title, description, category path, brand and price band
  (TF-IDF, cosine); reaches items nobody has bought yet and answers "similar items".
- `copurchase`: items bought (or viewed) in the same basket as the user's items.
- `repeat`: the user's own past purchases, decayed; strong where shops sell consumables.
- `trending`: what many users engaged with in the last days before the cutoff.
- `segment`: the most popular items of the user's favourite category (a taste segment).

`fit_index` learns every source from events strictly before a cutoff; `CandidateIndex.candidates`
returns the union of the sources' top items per user with each source's score and rank, the input of
the re-ranker (`ml.ranking.features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import implicit.cpu.als
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ml.data import EVENT_CODES, SECONDS_PER_DAY, Catalog, EventLog
from ml.kernels import factor_scores, top_k_rows

SOURCES = ("als", "content", "copurchase", "repeat", "trending", "segment")
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
    half_life_days: float = 30.0  # time decay of interaction weights
    trending_half_life_days: float = 7.0
    neighbors: int = 50  # item-to-item neighbours kept per item (content, copurchase)


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
        if source == "content":
            return _profile(self.history, users) @ self.content_neighbors
        if source == "copurchase":
            return _profile(self.history, users) @ self.copurchase_neighbors
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
        parts = []
        for start in range(0, len(users), CHUNK):
            block = users[start : start + CHUNK]
            excluded = self.purchase_counts[block].toarray() > 0 if exclude_purchased else None
            frames = []
            for source in sources:
                scores = _dense(self.source_scores(source, block))
                if excluded is not None:
                    scores = np.where(excluded, 0.0, scores)
                top, top_scores = top_k(scores, n)
                ranks = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)
                keep = top_scores > 0 if source != "als" else np.isfinite(top_scores)
                if excluded is not None and source == "als":
                    keep &= ~np.take_along_axis(excluded, top, axis=1)
                rows = np.broadcast_to(block[:, None], top.shape)
                frames.append(
                    pd.DataFrame(
                        {
                            "user": rows[keep],
                            "item": top[keep],
                            f"{source}_score": top_scores[keep],
                            f"{source}_rank": ranks[keep],
                        }
                    ).set_index(["user", "item"])
                )
            parts.append(pd.concat(frames, axis=1))
        union = pd.concat(parts).sort_index().reset_index()
        for source in sources:
            union[f"{source}_score"] = union[f"{source}_score"].fillna(0.0)
        union["user"] = union["user"].astype(np.int64)
        union["item"] = union["item"].astype(np.int64)
        return union


def fit_index(
    log: EventLog, catalog: Catalog, cutoff: float, als: AlsParams, params: CandidateParams
) -> CandidateIndex:
    """Learn every source from `log.before(cutoff)` only."""
    log = log.before(cutoff)
    n_items = catalog.size
    age_days = (cutoff - log.time) / SECONDS_PER_DAY
    decay = np.exp(-np.log(2) * age_days / params.half_life_days).astype(np.float32)
    history = log.matrix(log.weight * decay, n_items)
    history.data = np.maximum(history.data, 0)  # returns and removals never go below nothing
    history.eliminate_zeros()
    is_purchase = log.event == EVENT_CODES["purchase"]
    purchases = log.matrix(np.where(is_purchase, decay, 0).astype(np.float32), n_items)
    purchase_counts = log.matrix(is_purchase.astype(np.float32), n_items)
    purchases.eliminate_zeros()
    purchase_counts.eliminate_zeros()
    user_factors, item_factors = fit_als(history, als)

    engaged = np.maximum(log.weight, 0) * decay
    popularity = np.bincount(log.item, weights=engaged, minlength=n_items)
    trend_decay = np.exp(-np.log(2) * age_days / params.trending_half_life_days)
    trending = np.bincount(
        log.item, weights=np.maximum(log.weight, 0) * trend_decay, minlength=n_items
    )
    categories, category_codes = np.unique(catalog.category, return_inverse=True)
    user_category = _user_category(history, category_codes, len(categories))
    share = user_category / np.maximum(user_category.sum(axis=1, keepdims=True), 1e-12)
    return CandidateIndex(
        cutoff=cutoff,
        params=params,
        catalog=catalog,
        user_ids=log.user_ids,
        history=history,
        purchases=purchases,
        purchase_counts=purchase_counts,
        last_seen_days=_last_seen_days(log, n_items, cutoff),
        user_factors=user_factors,
        item_factors=item_factors,
        content_neighbors=content_neighbors(catalog, params.neighbors),
        copurchase_neighbors=copurchase_neighbors(log, n_items, params.neighbors),
        popularity=popularity,
        trending=trending,
        user_segment=user_category.argmax(axis=1),
        category_codes=category_codes,
        categories=categories,
        item_stats=_item_stats(log, catalog, cutoff, popularity, trending),
        user_stats=_user_stats(log, cutoff, purchase_counts),
        user_category_share=share,
        user_category_days=_user_category_days(log, category_codes, len(categories), cutoff),
    )


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


def content_neighbors(catalog: Catalog, k: int) -> sp.csr_matrix:
    """Top-k cosine neighbours over TF-IDF of text, category path, brand and price band."""
    text = catalog.text
    band = _price_band_tokens(catalog)
    documents = (
        text["title"]
        + " "
        + text["description"]
        + " "
        + text["category_path"].str.replace(">", " ")
        + " "
        + ("brand_" + text["brand"].str.replace(r"\W+", "_", regex=True)).where(
            text["brand"] != "", ""
        )
        + " "
        + band
    )
    if not documents.str.strip().any():
        return sp.csr_matrix((catalog.size, catalog.size), dtype=np.float32)
    vectors = TfidfVectorizer(
        min_df=1, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
    ).fit_transform(documents)
    return _top_k_similarity(normalize(vectors), normalize(vectors), k)


def copurchase_neighbors(log: EventLog, n_items: int, k: int) -> sp.csr_matrix:
    """Items that share baskets (orders, else sessions), cosine-normalised, top-k per item."""
    positive = log.weight > 0
    baskets, basket = np.unique(log.basket[positive], return_inverse=True)
    incidence = sp.csr_matrix(
        (np.ones(positive.sum(), dtype=np.float32), (basket, log.item[positive])),
        shape=(len(baskets), n_items),
    )
    incidence.data[:] = 1.0  # presence, not counts
    incidence.sum_duplicates()
    incidence.data[:] = 1.0
    together = (incidence.T @ incidence).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    counts = np.asarray(incidence.sum(axis=0)).ravel()
    norm = 1.0 / np.sqrt(np.maximum(counts, 1))
    together = sp.diags(norm) @ together @ sp.diags(norm)
    return _keep_top_k(together.tocsr(), k)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k best columns (best first; ties by lower column) and their scores."""
    return top_k_rows(np.ascontiguousarray(scores), k)


def _profile(history: sp.csr_matrix, users: np.ndarray) -> sp.csr_matrix:
    return normalize(history[users], norm="l1")


def _dense(scores) -> np.ndarray:
    if sp.issparse(scores):
        return scores.toarray()
    return np.asarray(scores, dtype=np.float64)


def _top_k_similarity(left: sp.csr_matrix, right: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, cols, values = [], [], []
    for start in range(0, left.shape[0], CHUNK):
        block = (left[start : start + CHUNK] @ right.T).toarray()
        np.fill_diagonal(block[:, start : start + CHUNK], 0)
        top, scores = top_k(block, k)
        keep = scores > 0
        rows.append(np.broadcast_to(np.arange(start, start + len(block))[:, None], top.shape)[keep])
        cols.append(top[keep])
        values.append(scores[keep])
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(left.shape[0], right.shape[0]),
        dtype=np.float32,
    )


def _keep_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, cols, values = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end == start:
            continue
        data = matrix.data[start:end]
        keep = np.argsort(-data)[:k]
        rows.append(np.full(len(keep), row))
        cols.append(matrix.indices[start:end][keep])
        values.append(data[keep])
    if not rows:
        return sp.csr_matrix(matrix.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=matrix.shape,
        dtype=np.float32,
    )


def _price_band_tokens(catalog: Catalog) -> pd.Series:
    price = pd.Series(catalog.price)
    rank = price.groupby(catalog.category).rank(pct=True)
    band = pd.cut(rank, [0, 1 / 3, 2 / 3, 1], labels=["price_low", "price_mid", "price_high"])
    return band.astype(str).where(price.notna(), "")


def _user_category(history: sp.csr_matrix, codes: np.ndarray, n: int) -> np.ndarray:
    to_category = sp.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), n)
    )
    return np.asarray((history @ to_category).todense())


def _last_seen_days(log: EventLog, n_items: int, cutoff: float) -> sp.csr_matrix:
    frame = pd.DataFrame({"user": log.user, "item": log.item, "time": log.time})
    last = frame.groupby(["user", "item"], sort=False)["time"].max().reset_index()
    days = 1.0 + (cutoff - last["time"].to_numpy()) / SECONDS_PER_DAY
    return sp.csr_matrix(
        (days.astype(np.float32), (last["user"], last["item"])), shape=(log.n_users, n_items)
    )


def _user_category_days(log: EventLog, codes: np.ndarray, n: int, cutoff: float) -> np.ndarray:
    days = np.full((log.n_users, n), np.nan, dtype=np.float32)
    frame = pd.DataFrame({"user": log.user, "category": codes[log.item], "time": log.time})
    last = frame.groupby(["user", "category"], sort=False)["time"].max().reset_index()
    days[last["user"], last["category"]] = (cutoff - last["time"]) / SECONDS_PER_DAY
    return days


def _item_stats(
    log: EventLog, catalog: Catalog, cutoff: float, popularity: np.ndarray, trending: np.ndarray
) -> pd.DataFrame:
    n = catalog.size
    count = {
        name: np.bincount(log.item[log.event == code], minlength=n)
        for name, code in EVENT_CODES.items()
    }
    buyers = pd.DataFrame({"user": log.user, "item": log.item})[
        log.event == EVENT_CODES["purchase"]
    ]
    per_buyer = buyers.groupby(["item", "user"]).size()
    repeat_buyers = (per_buyer >= 2).groupby(level="item").mean()
    return pd.DataFrame(
        {
            "i_popularity": np.log1p(popularity),
            "i_trending": np.log1p(trending),
            "i_purchases": count["purchase"],
            "i_views": count["view"],
            "i_conversion": np.where(
                count["view"] > 0, count["purchase"] / np.maximum(count["view"], 1), np.nan
            ),
            "i_repeat_buyer_share": repeat_buyers.reindex(np.arange(n)).to_numpy(),
            "i_price": catalog.price,
            "i_age_days": np.where(
                catalog.created_at > 0, (cutoff - catalog.created_at) / SECONDS_PER_DAY, np.nan
            ),
        }
    )


def _user_stats(log: EventLog, cutoff: float, purchase_counts: sp.csr_matrix) -> pd.DataFrame:
    n = log.n_users
    bought = log.event == EVENT_CODES["purchase"]
    last = np.full(n, -np.inf)
    np.maximum.at(last, log.user, log.time)
    last[np.isinf(last)] = np.nan
    spend = np.bincount(
        log.user[bought],
        weights=np.nan_to_num(log.price[bought]) * log.quantity[bought],
        minlength=n,
    )
    priced = bought & ~np.isnan(log.price)
    price_sum = np.bincount(log.user[priced], weights=log.price[priced], minlength=n)
    price_n = np.bincount(log.user[priced], minlength=n)
    n_purchases = np.bincount(log.user[bought], minlength=n)
    repeated = np.asarray((purchase_counts >= 2).sum(axis=1)).ravel()
    distinct_bought = np.diff(purchase_counts.indptr)
    return pd.DataFrame(
        {
            "u_events": np.bincount(log.user, minlength=n),
            "u_purchases": n_purchases,
            "u_days_since_last": (cutoff - last) / SECONDS_PER_DAY,
            "u_monetary": spend,
            "u_avg_price": np.where(price_n > 0, price_sum / np.maximum(price_n, 1), np.nan),
            "u_repeat_item_share": np.where(
                distinct_bought > 0, repeated / np.maximum(distinct_bought, 1), np.nan
            ),
        }
    )
