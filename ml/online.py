"""A few users at a time: the candidate union, pair features and re-ranking of the hybrid model,
for serving.

`CandidateIndex.candidates` + `ml.ranking.pair_features` + `HybridModel.recommend` are written for
thousands of users at once (pandas frames, scipy fancy indexing); for the users of one request or
one micro-batch of requests their fixed costs dominate (about 11 ms). `OnlineScorer` repeats the
same steps on plain numpy arrays, with a fixed number of numpy calls per batch of users (well under
a millisecond before the booster), and gives the same numbers: every step does the batch step's
arithmetic in the same dtype and the same order of operations:

- `content` / `copurchase`: sklearn's l1 `normalize` of the history (computed once per model),
  then scipy's CSR x CSR product (float32 products, added per cell in the order of the history
  row's entries and of each neighbour row), replayed here with `np.add.at`;
- `als`, `als_dot`: the very same numpy expressions on arrays of the same shape (one BLAS call per
  user: a product over several users' rows at once may round differently);
- the top `per_source` items of each source: `ml.candidates.top_k`'s partition and stable sort;
- features: float32 casts of the same float64 / float32 values, columns in `FEATURES` order;
- order: a stable sort by descending score per user, then the trending padding of
  `ml.model._pad_with_trending`.

tests/serving/test_online.py checks on a trained bundle, for every user, that the features equal
`pair_features` bit for bit, that `recommend` equals `HybridModel.recommend`, and that ranking
users together equals ranking each alone.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import xgboost as xgb
from sklearn.preprocessing import normalize

from ml.candidates import SOURCES
from ml.model import HybridModel
from ml.ranking import FEATURES, ITEM_STATS, USER_STATS

_MASK_LIMIT = 200_000  # users x items of a batch below which its candidate union uses a mask
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

    def rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Several rows concatenated: (entries per row, then the position in `users`, column and
        value of each entry)."""
        starts = self.indptr[users]
        lengths = self.indptr[users + 1] - starts
        positions = _ranges(starts, lengths)
        owners = np.repeat(np.arange(len(users)), lengths)
        return lengths, owners, self.indices[positions], self.data[positions]


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
        if source not in self._spread or len(self._spread[source][0]) == 0:
            return out
        columns, products, origins = self._spread[source]
        hits = columns[None, :] == np.asarray(items)[:, None]
        # The first largest product among each item's hits, as a stable sort by product would give.
        best = np.where(hits, products[None, :], -np.inf).argmax(axis=1)
        found = hits.any(axis=1)
        out[found] = origins[best[found]]
        return out


@dataclass(frozen=True)
class CandidateBatch:
    """The candidate union of several users: row i is (users[owner[i]], items[i]), rows sorted by
    owner, then item (the order of `CandidateIndex.candidates`)."""

    users: np.ndarray  # int64 user indices, one per requested user
    owner: np.ndarray  # int64 position in `users` of each row
    items: np.ndarray  # int64 item indices
    scores: np.ndarray  # rows x sources float64, 0 = not proposed
    ranks: np.ndarray  # rows x sources float64, NaN = not proposed
    spreads: list  # per user: source -> (columns, products, origins), see Ranked.anchors


class OnlineScorer:
    """`HybridModel` for one user, or a micro-batch of users, per call. Build once per loaded
    bundle; afterwards only its memo of the user-independent sources' tops changes."""

    def __init__(self, model: HybridModel) -> None:
        index = model.index
        self.model = model
        self.index = index
        self.booster = model.booster
        self.n_items = index.catalog.size
        self.per_source = index.params.per_source
        self.history = _Csr.of(index.history)
        # What `ml.candidates._profile` computes per batch of users, for all users once.
        self.profiles = _Csr.of(normalize(index.history, norm="l1"))
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
        self._segment_rows = {}
        self._shared_tops: dict = {}  # top per_source of the user-independent sources
        self._source_names = np.asarray(SOURCES)
        self.predict = _DensePredictor.for_booster(self.booster)

    def has_history(self, user: int) -> bool:
        return bool(self.history.indptr[user + 1] > self.history.indptr[user])

    # -- candidates ------------------------------------------------------------------------------

    def _dense_rows(self, matrix: _Csr, users: np.ndarray, dtype) -> np.ndarray:
        """len(users) x n_items: the users' rows of a CSR matrix."""
        out = np.zeros((len(users), self.n_items), dtype=dtype)
        _, owners, columns, values = matrix.rows(users)
        out[owners, columns] = values
        return out

    def _profiles(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray]:
        """The users' l1-normalised history rows: (entries per user, then owner position, item and
        weight of each entry, concatenated)."""
        return self.profiles.rows(users)

    def _spread(self, users: np.ndarray, source: str, profiles) -> tuple[np.ndarray, list]:
        """The users' normalised history rows times a neighbour matrix, as scipy's CSR x CSR
        product computes them (float32 products added per cell in the order of the history row's
        entries and of each neighbour row); with, per user, the (columns, products, origins) of
        every product for the reasons."""
        per_user, owners, items, profile = profiles
        neighbors = self.neighbors[source]
        starts = neighbors.indptr[items]
        lengths = neighbors.indptr[items + 1] - starts
        ends = np.cumsum(lengths)
        entry = np.repeat(np.arange(len(items)), lengths)  # the history entry of each product
        positions = np.arange(ends[-1] if len(ends) else 0) + (starts - (ends - lengths))[entry]
        columns = neighbors.indices[positions]
        products = profile[entry] * neighbors.data[positions]
        dense = np.zeros((len(users), self.n_items), dtype=np.float32)
        np.add.at(dense, (owners[entry], columns), products)
        origins = items[entry]
        bounds = np.r_[0, ends][np.r_[0, np.cumsum(per_user)]].tolist()
        parts = [(columns[a:b], products[a:b], origins[a:b])
                 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return dense, parts

    def _source_scores(self, users: np.ndarray, source: str, spreads: list[dict],
                       context: dict) -> np.ndarray:
        """len(users) x n_items, dtype as `_dense(CandidateIndex.source_scores(...))`."""
        if source == "als":  # one product per user: the same BLAS call as for a single user
            out = np.empty((len(users), self.n_items))
            for row, user in enumerate(users.tolist()):
                out[row] = self.user_factors[[user]] @ self.item_factors_t
            return out
        if source in ("content", "copurchase"):
            if "profiles" not in context:
                context["profiles"] = self._profiles(users)
            dense, parts = self._spread(users, source, context["profiles"])
            for spread, part in zip(spreads, parts, strict=True):
                spread[source] = part
            return dense
        if source == "repeat":
            return self._dense_rows(self.purchases, users, np.float32).astype(np.float64)
        if source == "trending":
            return np.broadcast_to(self.index.trending, (len(users), self.n_items))
        if source == "segment":
            return np.stack([self._segment_row(int(self.index.user_segment[u]))
                             for u in users.tolist()])
        raise ValueError(f"source: {source!r} is not one of {SOURCES}")

    def _segment_row(self, segment: int) -> np.ndarray:
        row = self._segment_rows.get(segment)
        if row is None:
            same = self.index.category_codes == segment
            row = np.where(same, self.index.popularity, 0.0)
            self._segment_rows[segment] = row
        return row

    def _shared_top(self, users: np.ndarray, source: str):
        """Top per_source of the user-independent sources (per segment for `segment`), kept."""
        if source not in ("trending", "segment"):
            return None
        keys = ([("trending",)] * len(users) if source == "trending" else
                [("segment", int(self.index.user_segment[u])) for u in users.tolist()])
        for key in set(keys) - self._shared_tops.keys():
            row = self.index.trending if source == "trending" else self._segment_row(key[1])
            top, top_scores = _top_k_rows(row[None, :], self.per_source)
            self._shared_tops[key] = (top[0], top_scores[0])
        return (np.stack([self._shared_tops[key][0] for key in keys]),
                np.stack([self._shared_tops[key][1] for key in keys]))

    def candidates_many(self, users: np.ndarray, exclude_purchased: bool = False) -> CandidateBatch:
        """The candidate union of several users at once: their rows of
        `CandidateIndex.candidates`, computed with a fixed number of numpy calls per source."""
        users = np.asarray(users, dtype=np.int64)
        if len(users) == 0:
            no_rows = np.zeros((0, len(SOURCES)))
            return CandidateBatch(users, users, users, no_rows, no_rows, [])
        excluded = None
        if exclude_purchased:
            excluded = self._dense_rows(self.purchase_counts, users, np.float32) > 0
        spreads: list[dict] = [{} for _ in range(len(users))]
        context: dict = {}
        picks = []
        for source in SOURCES:
            shared = self._shared_top(users, source) if excluded is None else None
            if shared is not None:
                top, top_scores = shared
            else:
                scores = self._source_scores(users, source, spreads, context)
                if excluded is not None:
                    scores = np.where(excluded, 0.0, scores)
                top, top_scores = _top_k_rows(scores, self.per_source)
            keep = top_scores > 0 if source != "als" else np.isfinite(top_scores)
            if excluded is not None and source == "als":
                keep &= ~np.take_along_axis(excluded, top, axis=1)
            rows, columns = np.nonzero(keep)
            picks.append((rows * self.n_items + top[rows, columns], top_scores[rows, columns],
                          columns + 1))
        # The union, by user then item: marked in a users x items mask (cheaper than sorting
        # while the mask is small), else sorted.
        proposed = np.concatenate([p[0] for p in picks])
        if len(users) * self.n_items <= _MASK_LIMIT:
            mark = np.zeros(len(users) * self.n_items, dtype=bool)
            mark[proposed] = True
            keys = np.flatnonzero(mark)
            row_of = np.cumsum(mark) - 1
        else:
            keys, row_of = np.unique(proposed), None
        scores = np.zeros((len(keys), len(SOURCES)))
        ranks = np.full((len(keys), len(SOURCES)), np.nan)
        for column, (source_keys, top_scores, top_ranks) in enumerate(picks):
            rows = row_of[source_keys] if row_of is not None else np.searchsorted(keys,
                                                                                  source_keys)
            scores[rows, column] = top_scores
            ranks[rows, column] = top_ranks
        return CandidateBatch(users, keys // self.n_items, keys % self.n_items, scores, ranks,
                              spreads)

    def candidates(self, user: int, exclude_purchased: bool = False):
        """(items sorted ascending, scores n x 6 float64 (0 = not proposed), ranks n x 6 float64
        (NaN = not proposed), spread): one user's rows of `CandidateIndex.candidates`."""
        batch = self.candidates_many(np.array([user]), exclude_purchased)
        return batch.items, batch.scores, batch.ranks, batch.spreads[0]

    # -- features and ranking --------------------------------------------------------------------

    def features_many(self, batch: CandidateBatch) -> np.ndarray:
        """float32, one row per candidate, equal to `pair_features` for these (user, item) pairs."""
        items, scores, ranks, owner = batch.items, batch.scores, batch.ranks, batch.owner
        users = batch.users[owner]
        out = np.empty((len(items), len(FEATURES)), dtype=np.float32)
        for column, source in enumerate(SOURCES):
            out[:, _COLUMN[f"{source}_score"]] = scores[:, column]
            if source != "trending":
                out[:, _COLUMN[f"{source}_rank"]] = ranks[:, column]
        out[:, _COLUMN["n_sources"]] = np.isfinite(ranks).sum(axis=1)
        out[:, _COLUMN["als_dot"]] = np.einsum("ij,ij->i", self.user_factors[users],
                                               self.item_factors[items])
        for name, matrix in (("ui_weight", self.history), ("ui_purchases", self.purchase_counts)):
            out[:, _COLUMN[name]] = self._dense_rows(matrix, batch.users, np.float32)[owner, items]
        last = self._dense_rows(self.last_seen_days, batch.users, np.float32)[owner, items]
        out[:, _COLUMN["ui_days_since_last"]] = np.where(last > 0, last - 1, np.nan)
        category = self.index.category_codes[items]
        out[:, _COLUMN["uc_share"]] = self.index.user_category_share[users, category]
        out[:, _COLUMN["uc_days_since_last"]] = self.index.user_category_days[users, category]
        first = _COLUMN[USER_STATS[0]]
        out[:, first:first + len(USER_STATS)] = self.user_stats[users]
        first = _COLUMN[ITEM_STATS[0]]
        out[:, first:first + len(ITEM_STATS)] = self.item_stats[items]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, _COLUMN["price_ratio"]] = self.item_price[items] / self.user_avg_price[users]
        return out

    def features(self, user: int, items: np.ndarray, scores: np.ndarray,
                 ranks: np.ndarray) -> np.ndarray:
        """`features_many` for one user's candidates."""
        return self.features_many(CandidateBatch(np.array([user]), np.zeros(len(items), np.int64),
                                             items, scores, ranks, [{}]))

    def rank_many(self, users, exclude_purchased: bool = False) -> list[Ranked]:
        """Per user, all candidates scored by the ranker, best first: one booster call for all
        of them (what a micro-batch of concurrent requests shares). In three steps for a caller
        that runs the booster elsewhere: `prepare`, `predict`, `ranked`."""
        batch, features = self.prepare(users, exclude_purchased)
        return self.ranked(batch, self.predict(features))

    def prepare(self, users, exclude_purchased: bool = False) -> tuple[CandidateBatch, np.ndarray]:
        """The users' candidates and their feature rows (the booster's input)."""
        batch = self.candidates_many(np.asarray(users, dtype=np.int64), exclude_purchased)
        return batch, self.features_many(batch)

    def ranked(self, batch: CandidateBatch, predicted: np.ndarray) -> list[Ranked]:
        """Per user of the batch, its candidates by descending `predicted`."""
        strongest = self._source_names[
            np.where(np.isnan(batch.ranks), np.inf, batch.ranks).argmin(axis=1)]
        # By user, then by descending score; ties keep item order (a stable sort, as per user).
        order = np.lexsort((-predicted, batch.owner))
        items, predicted, strongest = batch.items[order], predicted[order], strongest[order]
        bounds = np.r_[0, np.cumsum(np.bincount(batch.owner, minlength=len(batch.users)))]
        return [Ranked(user, items[a:b], predicted[a:b], strongest[a:b], spread)
                for user, a, b, spread in zip(batch.users.tolist(), bounds[:-1].tolist(),
                                              bounds[1:].tolist(), batch.spreads, strict=True)]

    def rank(self, user: int, exclude_purchased: bool = False) -> Ranked:
        """All of the user's candidates, scored by the ranker, best first."""
        return self.rank_many(np.array([user]), exclude_purchased)[0]

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


def _top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`ml.candidates.top_k` (the same partition and stable sort, so the same result) with plain
    fancy indexing instead of take_along_axis, whose set-up costs more than the work here."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(len(scores))[:, None]
    part_scores = scores[rows, part]
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return part[rows, order], part_scores[rows, order]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, start + length) for each pair (CSR row slices)."""
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(int(lengths.sum())) + offsets


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
