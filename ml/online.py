"""One user at a time: the candidate union, pair features and re-ranking of the hybrid model,
for serving.

`CandidateIndex.candidates` + `ml.ranking.pair_features` + `HybridModel.recommend` are written for
thousands of users at once (pandas frames, scipy fancy indexing); for one user their fixed costs
dominate (about 11 ms). `OnlineScorer` repeats the same steps for one user on plain numpy arrays
(well under a millisecond before the booster), and gives the same numbers: every step does the batch
step's arithmetic in the same dtype and the same order of operations:

- `content` / `copurchase`: sklearn's l1 `normalize` (a float64 running sum, float32 division)
  of the user's history row, then scipy's CSR x CSR product (float32 products, added in the order
  of the history row's entries and of each neighbour row), both replayed here with `np.add.at`;
- `als`, `als_dot`: the very same numpy expressions on arrays of the same shape;
- the top `per_source` items of each source: `ml.candidates.top_k`'s partition and stable sort;
- features: float32 casts of the same float64 / float32 values, columns in `FEATURES` order;
- order: a stable sort by descending score (what `np.lexsort` does for one user), then the trending
  padding of `ml.model._pad_with_trending`.

tests/serving/test_online.py checks on a trained bundle, for every user, that the features equal
`pair_features` bit for bit and that `recommend` equals `HybridModel.recommend`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from ml.candidates import SOURCES
from ml.model import HybridModel
from ml.ranking import FEATURES, ITEM_STATS, USER_STATS

_SOURCE_INDEX = {s: i for i, s in enumerate(SOURCES)}
_COLUMN = {f: i for i, f in enumerate(FEATURES)}


@dataclass(frozen=True)
class _Csr:
    """The three arrays of a CSR matrix (scipy's attribute lookups cost microseconds each)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> _Csr:
        matrix = matrix.tocsr()
        return cls(matrix.indptr, matrix.indices, matrix.data)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.indptr[i], self.indptr[i + 1]
        return self.indices[start:end], self.data[start:end]


@dataclass(frozen=True)
class Ranked:
    """Every candidate of one user, best first (before any business rule or padding)."""

    user: int
    items: np.ndarray  # int64 item indices
    scores: np.ndarray  # float32 ranker scores
    sources: np.ndarray  # str: the source that proposed the item most strongly
    _spread: dict  # source -> (columns, products, origins) of the user's profile x neighbours

    def anchors(self, items: np.ndarray, source: str) -> np.ndarray:
        """For `content` / `copurchase`: the history item that contributed most to each of `items`
        (the "similar to" / "bought together with" of a reason); -1 where none did."""
        out = np.full(len(items), -1, dtype=np.int64)
        if source not in self._spread:
            return out
        columns, products, origins = self._spread[source]
        for position, item in enumerate(items.tolist()):
            hits = np.flatnonzero(columns == item)
            if len(hits):  # the first largest product, as a stable sort by product would give
                out[position] = origins[hits[np.argmax(products[hits])]]
        return out


class OnlineScorer:
    """`HybridModel` for one user per call. Build once per loaded bundle (read-only afterwards, so
    one instance serves concurrent requests)."""

    def __init__(self, model: HybridModel) -> None:
        index = model.index
        self.model = model
        self.index = index
        self.booster = model.booster
        self.n_items = index.catalog.size
        self.per_source = index.params.per_source
        self.history = _Csr.of(index.history)
        self.purchases = _Csr.of(index.purchases)
        self.purchase_counts = _Csr.of(index.purchase_counts)
        self.last_seen_days = _Csr.of(index.last_seen_days)
        self.neighbors = {"content": _Csr.of(index.content_neighbors),
                          "copurchase": _Csr.of(index.copurchase_neighbors)}
        self.user_factors = index.user_factors
        self.item_factors = index.item_factors
        self.item_factors_t = index.item_factors.T
        # pair_features casts each stats column from its own dtype to float32: so do we, once.
        self.user_stats = np.column_stack(
            [index.user_stats[n].to_numpy().astype(np.float32) for n in USER_STATS])
        self.item_stats = np.column_stack(
            [index.item_stats[n].to_numpy().astype(np.float32) for n in ITEM_STATS])
        self.item_price = index.item_stats["i_price"].to_numpy()
        self.user_avg_price = index.user_stats["u_avg_price"].to_numpy()
        self.ranked_trending = np.argsort(-index.trending, kind="stable")
        self._trending_row = index.trending[None, :]
        self._segment_rows = {}
        self._shared_tops: dict = {}  # top per_source of the user-independent sources
        self._source_names = np.asarray(SOURCES)
        self.predict = _DensePredictor.for_booster(self.booster)

    def has_history(self, user: int) -> bool:
        return bool(self.history.indptr[user + 1] > self.history.indptr[user])

    # -- candidates ------------------------------------------------------------------------------

    def _profile(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's history row, l1-normalised as sklearn's `normalize` does it."""
        items, weights = self.history.row(user)
        total = np.cumsum(np.abs(weights), dtype=np.float64)[-1] if len(weights) else 0.0
        return items, (weights / total).astype(np.float32) if total != 0.0 else weights

    def _spread_profile(self, user: int, source: str, spread: dict):
        """The user's normalised history row times a neighbour matrix, as scipy computes it."""
        if "profile" not in spread:
            spread["profile"] = self._profile(user)
        items, profile = spread["profile"]
        neighbors = self.neighbors[source]
        starts, ends = neighbors.indptr[items], neighbors.indptr[items + 1]
        lengths = ends - starts
        n = int(lengths.sum())
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        positions = np.arange(n) + offsets
        columns = neighbors.indices[positions]
        products = np.repeat(profile, lengths) * neighbors.data[positions]
        dense = np.zeros(self.n_items, dtype=np.float32)
        np.add.at(dense, columns, products)
        return dense[None, :], (columns, products, np.repeat(items, lengths))

    def _dense_row(self, matrix: _Csr, user: int, dtype) -> np.ndarray:
        row = np.zeros(self.n_items, dtype=dtype)
        items, values = matrix.row(user)
        row[items] = values
        return row

    def _source_scores(self, user: int, source: str, spread: dict) -> np.ndarray:
        """1 x n_items, dtype as `_dense(CandidateIndex.source_scores(...))`."""
        if source == "als":
            return np.asarray(self.user_factors[[user]] @ self.item_factors_t, dtype=np.float64)
        if source in ("content", "copurchase"):
            row, spread[source] = self._spread_profile(user, source, spread)
            return row
        if source == "repeat":
            return self._dense_row(self.purchases, user, np.float32).astype(np.float64)[None, :]
        if source == "trending":
            return self._trending_row
        if source == "segment":
            segment = int(self.index.user_segment[user])
            row = self._segment_rows.get(segment)
            if row is None:
                same = self.index.category_codes[None, :] == segment
                row = np.where(same, self.index.popularity[None, :], 0.0)
                self._segment_rows[segment] = row
            return row
        raise ValueError(f"source: {source!r} is not one of {SOURCES}")

    def _shared_key(self, user: int, source: str):
        if source == "trending":
            return ("trending",)
        if source == "segment":
            return ("segment", int(self.index.user_segment[user]))
        return None

    def candidates(self, user: int, exclude_purchased: bool = False):
        """(items sorted ascending, scores n x 6 float64 (0 = not proposed), ranks n x 6 float64
        (NaN = not proposed), spread): one user's rows of `CandidateIndex.candidates`."""
        excluded = None
        if exclude_purchased:
            excluded = self._dense_row(self.purchase_counts, user, np.float32)[None, :] > 0
        spread: dict = {}
        picks = []
        for source in SOURCES:
            shared = self._shared_key(user, source) if excluded is None else None
            if shared in self._shared_tops:  # the same for every user (of a segment)
                top, top_scores = self._shared_tops[shared]
            else:
                scores = self._source_scores(user, source, spread)
                if excluded is not None:
                    scores = np.where(excluded, 0.0, scores)
                top, top_scores = _top_k_row(scores[0], self.per_source)
                if shared is not None:
                    self._shared_tops[shared] = (top, top_scores)
            keep = top_scores > 0 if source != "als" else np.isfinite(top_scores)
            if excluded is not None and source == "als":
                keep &= ~excluded[0, top]
            ranks = np.arange(1, len(top) + 1)
            picks.append((top[keep], top_scores[keep], ranks[keep]))
        items = np.unique(np.concatenate([p[0] for p in picks]))
        scores = np.zeros((len(items), len(SOURCES)))
        ranks = np.full((len(items), len(SOURCES)), np.nan)
        for column, (top, top_scores, top_ranks) in enumerate(picks):
            rows = np.searchsorted(items, top)
            scores[rows, column] = top_scores
            ranks[rows, column] = top_ranks
        return items.astype(np.int64), scores, ranks, spread

    # -- features and ranking --------------------------------------------------------------------

    def features(self, user: int, items: np.ndarray, scores: np.ndarray,
                 ranks: np.ndarray) -> np.ndarray:
        """float32, one row per item, equal to `pair_features` for these (user, item) pairs."""
        n = len(items)
        out = np.empty((n, len(FEATURES)), dtype=np.float32)
        for column, source in enumerate(SOURCES):
            out[:, _COLUMN[f"{source}_score"]] = scores[:, column]
            if source != "trending":
                out[:, _COLUMN[f"{source}_rank"]] = ranks[:, column]
        out[:, _COLUMN["n_sources"]] = np.isfinite(ranks).sum(axis=1)
        users = np.full(n, user)
        out[:, _COLUMN["als_dot"]] = np.einsum("ij,ij->i", self.user_factors[users],
                                               self.item_factors[items])
        out[:, _COLUMN["ui_weight"]] = self._dense_row(self.history, user, np.float32)[items]
        out[:, _COLUMN["ui_purchases"]] = self._dense_row(self.purchase_counts, user,
                                                          np.float32)[items]
        last = self._dense_row(self.last_seen_days, user, np.float32)[items]
        out[:, _COLUMN["ui_days_since_last"]] = np.where(last > 0, last - 1, np.nan)
        category = self.index.category_codes[items]
        out[:, _COLUMN["uc_share"]] = self.index.user_category_share[user, category]
        out[:, _COLUMN["uc_days_since_last"]] = self.index.user_category_days[user, category]
        first = _COLUMN[USER_STATS[0]]
        out[:, first:first + len(USER_STATS)] = self.user_stats[user]
        first = _COLUMN[ITEM_STATS[0]]
        out[:, first:first + len(ITEM_STATS)] = self.item_stats[items]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, _COLUMN["price_ratio"]] = self.item_price[items] / self.user_avg_price[user]
        return out

    def rank(self, user: int, exclude_purchased: bool = False) -> Ranked:
        """All of the user's candidates, scored by the ranker, best first."""
        items, scores, ranks, spread = self.candidates(user, exclude_purchased)
        if len(items) == 0:
            return Ranked(user, items, np.zeros(0, np.float32), np.zeros(0, dtype="<U10"), spread)
        predicted = self.predict(self.features(user, items, scores, ranks))
        strongest = self._source_names[np.where(np.isnan(ranks), np.inf, ranks).argmin(axis=1)]
        order = np.argsort(-predicted, kind="stable")
        return Ranked(user, items[order], predicted[order], strongest[order], spread)

    def recommend(self, user: int, k: int, exclude_purchased: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(items, scores, reasons): what `HybridModel.recommend([user], k)` gives this user."""
        ranked = self.rank(user, exclude_purchased)
        items, scores = ranked.items[:k], ranked.scores[:k]
        reasons = ranked.sources[:k].tolist()
        if len(items) >= k:
            return items, scores, reasons
        taken = set(items.tolist())
        if exclude_purchased:
            taken.update(self.purchase_counts.row(user)[0].tolist())
        head = self.ranked_trending[: k + len(taken)]
        fill = [i for i in head if i not in taken][: k - len(items)]
        floor = float(scores.min()) if len(scores) else 0.0
        items = np.concatenate([items, np.asarray(fill, dtype=items.dtype if len(items) else int)])
        scores = np.concatenate([scores, floor - 1.0 - np.arange(len(fill))])
        return items, scores, reasons + ["trending"] * len(fill)


def _top_k_row(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`ml.candidates.top_k` for a single row: the same partition and the same stable sort."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    part_scores = scores[part]
    order = np.argsort(-part_scores, kind="stable")
    return part[order], part_scores[order]


class _DensePredictor:
    """`booster.inplace_predict(X, missing=np.nan)` for a C-contiguous float32 matrix, without the
    per-call Python work of xgboost's wrapper (type sniffing, JSON of fixed arguments: ~0.1 ms of a
    ~0.4 ms call). Same C entry point (XGBoosterPredictFromDense), same arguments, so the same
    numbers; tests/serving/test_online.py compares the two. Falls back to `inplace_predict` when
    this xgboost lacks the internals it relies on."""

    def __init__(self, booster: xgb.Booster) -> None:
        from xgboost.core import _LIB, _check_call, c_bst_ulong, make_jcargs

        self._booster = booster
        self._lib, self._check, self._ulong = _LIB, _check_call, c_bst_ulong
        self._args = make_jcargs(type=0, training=False, iteration_begin=0, iteration_end=0,
                                 missing=np.nan, strict_shape=False, cache_id=0)
        self._no_proxy = ctypes.c_void_p()

    @classmethod
    def for_booster(cls, booster: xgb.Booster):
        try:
            return cls(booster)
        except ImportError:
            return lambda features: booster.inplace_predict(features, missing=np.nan)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        features = np.ascontiguousarray(features, dtype=np.float32)
        rows, columns = features.shape
        if rows == 0:
            return np.zeros(0, dtype=np.float32)
        interface = (b'{"data": [%d, true], "shape": [%d, %d], "strides": null, "typestr": "<f4", '
                     b'"version": 3}' % (features.ctypes.data, rows, columns))
        predictions = ctypes.POINTER(ctypes.c_float)()
        shape = ctypes.POINTER(self._ulong)()
        dims = self._ulong()
        self._check(self._lib.XGBoosterPredictFromDense(
            self._booster.handle, interface, self._args, self._no_proxy, ctypes.byref(shape),
            ctypes.byref(dims), ctypes.byref(predictions)))
        if dims.value != 1 or shape[0] != rows:  # one score per row, as rank:* objectives give
            return self._booster.inplace_predict(features, missing=np.nan)
        # The buffer belongs to the booster (per thread) and is reused by its next call: copy.
        return np.ctypeslib.as_array(predictions, shape=(rows,)).copy()
