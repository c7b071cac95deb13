"""A few users at a time: the candidate union, pair features and re-ranking of the hybrid model,
for serving.

`CandidateIndex.candidates` + `ml.ranking.features.pair_features` + `FittedContender.recommend` are
written for thousands of users at once (pandas frames, scipy fancy indexing); for the users of
one request or one micro-batch of requests their fixed costs dominate. `OnlineScorer` computes the
candidates and features of a batch of users in one compiled pass (`_candidate_pass`, numba,
without the GIL: a serving worker runs it on its booster thread, beside the XGBoost call), and
gives the same numbers as the batch code:

- `als` and `als_dot`, and every source's top `per_source` items: the very same functions
  (`ml.kernels`);
- the neighbour sources (`ml.candidates.NEIGHBOR_SOURCES`: content, copurchase, itemknn, ease,
  sequence): sklearn's l1 `normalize` of their profile (the history, or the recent steps; computed
  once per model), then scipy's CSR x CSR product (float32 products, added per cell in the order
  of the profile row's entries and of each neighbour row), replayed in that order;
- features: float32 casts of the same float64 / float32 values, columns in `FEATURES` order;
- order: a stable sort by descending score per user, then `ml.ranking.hybrid.pad_with_trending`;
- scores: `booster.inplace_predict`'s (see `_DensePredictor`).

tests/serving/test_online.py checks on a trained bundle, for every user, that the features equal
`pair_features` bit for bit, that `recommend` equals `FittedContender.recommend`, and that ranking
users together equals ranking each alone.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import xgboost as xgb
from numba import njit

from ml.candidates import NEIGHBOR_SOURCES, SOURCES
from ml.kernels import JIT, factor_row, pair_dot, top_k_into, top_k_rows
from ml.online.live import UserRows, UserTables
from ml.point_in_time import USER_STATS
from ml.ranking.features import FEATURES, ITEM_STATS
from ml.ranking.hybrid import FittedContender, pad_with_trending

_COLUMN = {f: i for i, f in enumerate(FEATURES)}
# Where `_candidate_pass` writes each feature: per source its score column, per source its rank
# column (-1: trending has none), then the single columns and the first of each stats block.
_LAYOUT = np.array(
    [_COLUMN[f"{s}_score"] for s in SOURCES]
    + [_COLUMN.get(f"{s}_rank", -1) for s in SOURCES]
    + [_COLUMN[name] for name in ("n_sources", "als_dot", "ui_weight", "ui_purchases",
                                  "ui_days_since_last", "uc_share", "uc_days_since_last",
                                  USER_STATS[0], ITEM_STATS[0], "price_ratio")],
    dtype=np.int64)
# The position of each source in SOURCES, as `_candidate_pass` uses them: the neighbour sources
# are positions 1 .. _NEIGHBORS, in `_NEIGHBOR_NAMES` order.
_ALS, _REPEAT, _TRENDING, _SEGMENT = 0, 6, 7, 8
_NEIGHBOR_NAMES = ("content", "copurchase", "itemknn", "ease", "sequence")
_NEIGHBORS = len(_NEIGHBOR_NAMES)
_PROFILES = ("history", "recent")  # the profiles neighbour sources read, in `UserTables` order
assert SOURCES == ("als", *_NEIGHBOR_NAMES, "repeat", "trending", "segment")
assert set(NEIGHBOR_SOURCES) == set(_NEIGHBOR_NAMES)

logger = logging.getLogger(__name__)


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

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For `_candidate_pass`: int64 indices whatever scipy chose (one compiled signature)."""
        return (self.indptr.astype(np.int64), self.indices.astype(np.int64),
                self.data.astype(np.float32, copy=False))


@dataclass(frozen=True)
class Ranked:
    """Every candidate of one user, best first (before any business rule or padding)."""

    user: int
    items: np.ndarray  # int64 item indices
    scores: np.ndarray  # float32 ranker scores
    sources: np.ndarray  # str: the source that proposed the item most strongly (lowest rank)
    # For items whose source is content / copurchase: the history item that contributed most to
    # the item's score (the "similar to" / "bought together with" of a reason); else -1.
    anchors: np.ndarray


@dataclass(frozen=True)
class CandidateBatch:
    """The candidate union of several users: row i is (users[owner[i]], items[i]), rows sorted by
    owner, then item (the order of `CandidateIndex.candidates`)."""

    users: np.ndarray  # int64 user indices, one per requested user
    owner: np.ndarray  # int64 position in `users` of each row
    items: np.ndarray  # int64 item indices
    scores: np.ndarray  # rows x sources float64, 0 = not proposed
    ranks: np.ndarray  # rows x sources float64, NaN = not proposed
    strongest: np.ndarray  # int64 per row: the position in SOURCES of its lowest rank
    anchors: np.ndarray  # int64 per row: see Ranked.anchors


class OnlineScorer:
    """`FittedContender` for one user, or a micro-batch of users, per call. Build once per loaded
    bundle; it does not change afterwards. A single-source contender ranks the candidates its
    source proposed by that source's score (no booster); the hybrid ranks all by the booster."""

    def __init__(self, model: FittedContender) -> None:
        index = model.index
        self.booster = model.booster
        self.source = model.source  # None for the hybrid
        self.per_source = index.params.per_source
        self.purchase_counts = _Csr.of(index.purchase_counts)
        self.neighbors = {name: _Csr.of(getattr(index, f"{name}_neighbors"))
                          for name in _NEIGHBOR_NAMES}
        # Every user's rows, as the compiled pass reads them (a batch with live rows: its own).
        self.users = UserTables.of_index(index)
        # The user-independent sources' tops: trending (row 0) and each segment's (row 1 + s),
        # as `CandidateIndex.candidates` computes them per user.
        same = index.category_codes[None, :] == np.arange(len(index.categories))[:, None]
        shared = np.vstack([index.trending[None, :],
                            np.where(same, index.popularity[None, :], 0.0)])
        shared_items, shared_scores = top_k_rows(shared, self.per_source)
        # pair_features casts each stats column from its own dtype to float32: so do we, once.
        item_stats = np.column_stack(
            [index.item_stats[n].to_numpy().astype(np.float32) for n in ITEM_STATS])
        # Everything of the model `_candidate_pass` reads, in its order.
        self._tables = (
            np.array([_PROFILES.index(NEIGHBOR_SOURCES[n]) for n in _NEIGHBOR_NAMES]),
            tuple(self.neighbors[name].arrays for name in _NEIGHBOR_NAMES),
            index.item_factors, index.item_factors_t,
            index.trending, index.popularity, index.category_codes,
            shared_items, shared_scores, item_stats,
            index.item_stats["i_price"].to_numpy(), _LAYOUT)
        self._user_tables = self.users.arrays
        self.ranked_trending = np.argsort(-index.trending, kind="stable")
        self._source_names = np.asarray(SOURCES)
        self.predict = _DensePredictor(self.booster) if self.booster is not None else None

    def prepare(self, users, exclude_purchased: bool = False,
                live: list[UserRows | None] | None = None) -> tuple[CandidateBatch, np.ndarray]:
        """The users' candidates (their rows of `CandidateIndex.candidates`) and their feature rows
        (equal to `pair_features`: the booster's input). `live`: per user, the rows to rank them
        by instead of the bundle's (`ml.online.live`; a visitor the bundle does not know has -1
        in `users`), or None."""
        users = np.asarray(users, dtype=np.int64)
        slots, tables = users, self._user_tables
        if any(u < 0 and (live is None or live[i] is None) for i, u in enumerate(users.tolist())):
            raise ValueError("users: -1 (a visitor the model does not know) needs live rows")
        if live is not None and any(rows is not None for rows in live):
            tables = UserTables.stack([self.users.rows(u) if rows is None else rows
                                       for u, rows in zip(users.tolist(), live, strict=True)]
                                      ).arrays
            slots = np.arange(len(users), dtype=np.int64)
        *candidates, features = _candidate_pass(slots, bool(exclude_purchased), self.per_source,
                                                len(FEATURES), self._tables, tables)
        return CandidateBatch(users, *candidates), features

    def score(self, users, exclude_purchased: bool = False,
              live: list[UserRows | None] | None = None) -> tuple[CandidateBatch, np.ndarray]:
        """The users' candidates and the ranker's score of each: the compiled pass and the booster
        call, both without the GIL for most of their time."""
        batch, features = self.prepare(users, exclude_purchased, live)
        if self.predict is None:
            return batch, self._source_scores(batch)
        return batch, self.predict(features)

    def _source_scores(self, batch: CandidateBatch) -> np.ndarray:
        """A single-source contender's scores: its source's, -inf where it proposed nothing."""
        column = SOURCES.index(self.source)
        return np.where(np.isfinite(batch.ranks[:, column]), batch.scores[:, column], -np.inf)

    def ranked(self, batch: CandidateBatch, predicted: np.ndarray) -> list[Ranked]:
        """Per user of the batch, its candidates by descending `predicted` (a single-source
        contender's: only those its source proposed, each with that source as the reason)."""
        owner, strongest = batch.owner, batch.strongest
        items, anchors = batch.items, batch.anchors
        if self.source is not None:
            kept, column = np.isfinite(predicted), SOURCES.index(self.source)
            # an anchor explains the source it came from: keep it only where that is this one
            anchors = np.where(strongest == column, anchors, -1)[kept]
            owner, items, predicted = owner[kept], items[kept], predicted[kept]
            strongest = np.full(len(owner), column)
        # By user, then by descending score; ties keep item order (a stable sort, as per user).
        order = np.lexsort((-predicted, owner))
        items, predicted = items[order], predicted[order]
        sources, anchors = self._source_names[strongest[order]], anchors[order]
        bounds = np.r_[0, np.cumsum(np.bincount(owner, minlength=len(batch.users)))]
        return [Ranked(user, items[a:b], predicted[a:b], sources[a:b], anchors[a:b])
                for user, a, b in zip(batch.users.tolist(), bounds[:-1].tolist(),
                                      bounds[1:].tolist(), strict=True)]

    def rank_many(self, users, exclude_purchased: bool = False,
                  live: list[UserRows | None] | None = None) -> list[Ranked]:
        """Per user, all candidates scored by the ranker, best first: one booster call for all
        of them (what a micro-batch of concurrent requests shares)."""
        return self.ranked(*self.score(users, exclude_purchased, live))

    def rank(self, user: int, exclude_purchased: bool = False) -> Ranked:
        """All of the user's candidates, scored by the ranker, best first."""
        return self.rank_many(np.array([user]), exclude_purchased)[0]

    def recommend(self, user: int, k: int, exclude_purchased: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(items, scores, reasons): what `FittedContender.recommend([user], k)` gives this user."""
        ranked = self.rank(user, exclude_purchased)
        purchased = self.purchase_counts.row(user)[0] if exclude_purchased else None
        return pad_with_trending(self.ranked_trending, ranked.items, ranked.scores,
                                 ranked.sources[:k].tolist(), k, purchased)


@njit(**JIT)
def _candidate_pass(users, exclude, per_source, n_features, tables, user_tables):
    """`CandidateIndex.candidates` and `pair_features` for a few users, in one pass: (owner,
    items, scores, ranks, strongest, anchors, features); see `CandidateBatch`. `tables`:
    `OnlineScorer._tables`; `user_tables`: `UserTables.arrays`, whose rows `users` are."""
    (profile_of, neighbor_tables, item_factors, item_factors_t, trending, popularity,
     category_codes, shared_items, shared_scores, item_stats, item_price, layout) = tables
    (history, profiles, purchases, purchase_counts, last_seen, user_factors, user_segment,
     category_share, category_days, user_stats, user_avg_price) = user_tables
    n_users, n_items, n_sources = len(users), len(trending), len(SOURCES)
    k = min(per_source, n_items)
    capacity = n_users * n_sources * k
    owner = np.empty(capacity, np.int64)
    items = np.empty(capacity, np.int64)
    scores = np.zeros((capacity, n_sources))
    ranks = np.full((capacity, n_sources), np.nan)
    strongest = np.empty(capacity, np.int64)
    anchors = np.empty(capacity, np.int64)
    features = np.empty((capacity, n_features), np.float32)

    dense32 = np.zeros(n_items, np.float32)
    # Per neighbour source and item: the largest product of the user's profile x neighbours that
    # reached it (the first, in the product's order, on ties) and its origin.
    best_product = np.full((_NEIGHBORS, n_items), -1.0, np.float32)
    best_origin = np.full((_NEIGHBORS, n_items), -1, np.int64)
    dense = np.zeros(n_items)
    excluded = np.zeros(n_items, np.bool_)
    position = np.full(n_items, -1, np.int64)
    weight = np.zeros(n_items, np.float32)
    bought = np.zeros(n_items, np.float32)
    seen = np.zeros(n_items, np.float32)
    top_items = np.zeros((n_sources, k), np.int64)
    top_scores = np.zeros((n_sources, k))
    keep = np.zeros((n_sources, k), np.bool_)
    union = np.empty(n_sources * k, np.int64)
    rows = 0
    for b in range(n_users):
        user = users[b]
        if exclude:
            for e in range(purchase_counts[0][user], purchase_counts[0][user + 1]):
                if purchase_counts[2][e] > 0:
                    excluded[purchase_counts[1][e]] = True
        members = 0
        for s in range(n_sources if k > 0 else 0):
            if s >= _TRENDING and not exclude:  # trending, segment: one top for many users
                shared = 0 if s == _TRENDING else 1 + user_segment[user]
                top_items[s] = shared_items[shared]
                top_scores[s] = shared_scores[shared]
            else:
                if s == _ALS:
                    factor_row(user_factors, user, item_factors_t, dense32)
                    dense[:] = dense32
                elif s <= _NEIGHBORS:
                    neighbors = neighbor_tables[s - 1]
                    profile = profiles[profile_of[s - 1]]
                    dense32[:] = 0.0
                    for e in range(profile[0][user], profile[0][user + 1]):
                        origin = profile[1][e]
                        share = profile[2][e]
                        for m in range(neighbors[0][origin], neighbors[0][origin + 1]):
                            column = neighbors[1][m]
                            product = share * neighbors[2][m]
                            dense32[column] += product
                            if product > best_product[s - 1, column]:
                                best_product[s - 1, column] = product
                                best_origin[s - 1, column] = origin
                    dense[:] = dense32
                elif s == _REPEAT:
                    dense[:] = 0.0
                    for e in range(purchases[0][user], purchases[0][user + 1]):
                        dense[purchases[1][e]] = purchases[2][e]
                elif s == _TRENDING:
                    dense[:] = trending
                else:
                    for j in range(n_items):
                        dense[j] = popularity[j] if category_codes[j] == user_segment[user] else 0.0
                if exclude:
                    for j in range(n_items):
                        if excluded[j]:
                            dense[j] = 0.0
                top_k_into(dense, k, top_items[s], top_scores[s])
            for r in range(k):
                item = top_items[s, r]
                if s == _ALS:
                    kept = np.isfinite(top_scores[s, r]) and not excluded[item]
                else:
                    kept = top_scores[s, r] > 0
                keep[s, r] = kept
                if kept and position[item] == -1:
                    position[item] = -2
                    union[members] = item
                    members += 1
        chosen = np.sort(union[:members])
        for m in range(members):
            position[chosen[m]] = rows + m
            owner[rows + m] = b
            items[rows + m] = chosen[m]
        for s in range(n_sources if k > 0 else 0):
            for r in range(k):
                if keep[s, r]:
                    row = position[top_items[s, r]]
                    scores[row, s] = top_scores[s, r]
                    ranks[row, s] = r + 1

        for e in range(history[0][user], history[0][user + 1]):
            weight[history[1][e]] = history[2][e]
        for e in range(purchase_counts[0][user], purchase_counts[0][user + 1]):
            bought[purchase_counts[1][e]] = purchase_counts[2][e]
        for e in range(last_seen[0][user], last_seen[0][user + 1]):
            seen[last_seen[1][e]] = last_seen[2][e]
        for row in range(rows, rows + members):
            item = items[row]
            out = features[row]
            found = 0
            for s in range(n_sources):
                out[layout[s]] = scores[row, s]
                if layout[n_sources + s] >= 0:
                    out[layout[n_sources + s]] = ranks[row, s]
                if np.isfinite(ranks[row, s]):
                    found += 1
            lowest = 0
            for s in range(1, n_sources):
                if ranks[row, s] < ranks[row, lowest] or np.isnan(ranks[row, lowest]):
                    lowest = s
            strongest[row] = lowest
            anchors[row] = (best_origin[lowest - 1, item]
                            if 1 <= lowest <= _NEIGHBORS else -1)
            single = 2 * n_sources
            out[layout[single]] = found
            out[layout[single + 1]] = pair_dot(user_factors, user, item_factors, item)
            out[layout[single + 2]] = weight[item]
            out[layout[single + 3]] = bought[item]
            last = seen[item]
            out[layout[single + 4]] = last - np.float32(1.0) if last > 0 else np.nan
            category = category_codes[item]
            out[layout[single + 5]] = category_share[user, category]
            out[layout[single + 6]] = category_days[user, category]
            for c in range(user_stats.shape[1]):
                out[layout[single + 7] + c] = user_stats[user, c]
            for c in range(item_stats.shape[1]):
                out[layout[single + 8] + c] = item_stats[item, c]
            out[layout[single + 9]] = item_price[item] / user_avg_price[user]

        # Leave the scratch rows as they were for the next user.
        for m in range(members):
            position[chosen[m]] = -1
        for e in range(history[0][user], history[0][user + 1]):
            weight[history[1][e]] = 0.0
        for e in range(purchase_counts[0][user], purchase_counts[0][user + 1]):
            bought[purchase_counts[1][e]] = 0.0
            excluded[purchase_counts[1][e]] = False
        for e in range(last_seen[0][user], last_seen[0][user + 1]):
            seen[last_seen[1][e]] = 0.0
        for n in range(_NEIGHBORS):
            neighbors = neighbor_tables[n]
            profile = profiles[profile_of[n]]
            for e in range(profile[0][user], profile[0][user + 1]):
                origin = profile[1][e]
                for m in range(neighbors[0][origin], neighbors[0][origin + 1]):
                    best_product[n, neighbors[1][m]] = -1.0
                    best_origin[n, neighbors[1][m]] = -1
        rows += members
    return (owner[:rows], items[:rows], scores[:rows], ranks[:rows], strongest[:rows],
            anchors[:rows], features[:rows])


class _DensePredictor:
    """`booster.inplace_predict(features, missing=np.nan)` for a float32 feature matrix.

    On the serving path it calls the C entry point that `inplace_predict` calls
    (XGBoosterPredictFromDense) with the same arguments through xgboost's private ctypes bindings,
    skipping the wrapper's per-call Python work (input type sniffing, the JSON of fixed arguments),
    a large share of a call at one micro-batch's size. Private API can change in any xgboost
    release: the path is chosen once, here, and `inplace_predict` is used whenever the bindings
    are missing, fail, or do not give `inplace_predict`'s numbers on a probe. `path` says which
    ("private" or "inplace_predict"); tests/ml/test_online_predictor.py pins both.
    """

    def __init__(self, booster: xgb.Booster) -> None:
        self._booster = booster
        self._call = None
        probe = _probe_features(booster.num_features())
        public = booster.inplace_predict(probe, missing=np.nan)
        try:
            self._call = _private_dense_predict(booster)
            if not np.array_equal(self._call(probe), public, equal_nan=True):
                raise ValueError("the private path's scores differ from inplace_predict's")
        except Exception as error:  # any failure of the private path: use the public one
            self._call = None
            logger.warning("xgboost %s: scoring through Booster.inplace_predict, not its private "
                           "C bindings (%s: %s)", xgb.__version__, type(error).__name__, error)
        self.path = "inplace_predict" if self._call is None else "private"

    def __call__(self, features: np.ndarray) -> np.ndarray:
        features = np.ascontiguousarray(features, dtype=np.float32)
        if self._call is None:
            return self._booster.inplace_predict(features, missing=np.nan)
        return self._call(features)


def _probe_features(n_features: int) -> np.ndarray:
    """A few rows that reach many leaves: zeros, missing values, large and small numbers."""
    rng = np.random.default_rng(0)
    probe = rng.normal(scale=100.0, size=(8, n_features)).astype(np.float32)
    probe[0] = 0.0
    probe[1] = np.nan
    probe[rng.random(probe.shape) < 0.2] = np.nan
    return probe


def _private_dense_predict(booster: xgb.Booster):
    """`inplace_predict(X, missing=np.nan)` for a C-contiguous float32 X, calling what it calls
    (xgboost 3.2's core.py). Raises when this xgboost lacks the bindings it relies on."""
    from xgboost.core import _LIB, _check_call, c_bst_ulong, make_jcargs

    predict_from_dense = _LIB.XGBoosterPredictFromDense
    args = make_jcargs(type=0, training=False, iteration_begin=0, iteration_end=0,
                       missing=np.nan, strict_shape=False, cache_id=0)
    no_proxy = ctypes.c_void_p()

    def predict(features: np.ndarray) -> np.ndarray:
        rows, columns = features.shape
        if rows == 0:
            return np.zeros(0, dtype=np.float32)
        interface = (b'{"data": [%d, true], "shape": [%d, %d], "strides": null, '
                     b'"typestr": "<f4", "version": 3}' % (features.ctypes.data, rows, columns))
        predictions = ctypes.POINTER(ctypes.c_float)()
        shape = ctypes.POINTER(c_bst_ulong)()
        dims = c_bst_ulong()
        _check_call(predict_from_dense(booster.handle, interface, args, no_proxy,
                                       ctypes.byref(shape), ctypes.byref(dims),
                                       ctypes.byref(predictions)))
        if dims.value != 1 or shape[0] != rows:  # one score per row, as rank:* objectives give
            raise ValueError(f"expected one score per row, got {dims.value} dimensions")
        # The buffer belongs to the booster (per thread) and is reused by its next call: copy.
        return np.ctypeslib.as_array(predictions, shape=(rows,)).copy()

    return predict
