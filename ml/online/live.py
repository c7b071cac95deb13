"""A visitor's live events on top of the model's tables: the per-user rows serving ranks with.

The bundle's per-user tables (`ml.candidates.CandidateIndex`: the decayed history every source
reads, purchases, recency per item and category, the sequence profile, the user's stats) are dbt's
point-in-time features at the model's cutoff T (`ml.point_in_time`). A visitor's profile
(`ml.online.profile`) holds their latest interactions, some after T. `LiveRows.compose` gives the
rows those same features would have at `now` = the latest event + 1 s (as `serve_split` cuts a
warehouse whose last event that is) had the events after T been in the warehouse:

- decayed sums decay as a whole: sum_i w_i 2^-(now - t_i)/h = 2^-(now - T)/h x (the sum at T) +
  the new events' terms; the confidence is clipped at 0 after the sum, as dbt's greatest(sum, 0);
- counts add; "days since the last" ages by (now - T) and takes the newer event's age;
- the sequence profile (the latest `sequence_window` steps) shifts the bundle's steps back by the
  number of new steps (distinct moments of positive-weight events);
- category shares are recomputed from the composed confidence, the favourite category from them;
- the ALS factor of a visitor with new events is solved again against the model's item factors
  (implicit's `recalculate_user`, the least squares its training solves per user), so that a
  new customer or an anonymous visitor has one too.

What cannot be composed exactly: a pair whose confidence was clipped to 0 at T (its negative sum
is not kept) starts again from 0; the average price combines with the count of priced purchases
(`u_priced_purchases`; a bundle from before it was kept: the live purchases' prices alone); a
profile keeps its latest RECENT_LIMIT (50) interactions, so a visitor with more since T counts
those; an event dated before T is taken to be in the model (the warehouse had it when it
trained). tests/ml/test_live.py checks the composed rows, candidates and features against dbt's
on a warehouse holding the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import implicit.cpu.als
import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ml.candidates import AlsParams, CandidateIndex
from ml.data import PURCHASE, SECONDS_PER_DAY
from ml.point_in_time import PRICED_PURCHASES, USER_STATS

_STAT = {name: i for i, name in enumerate(USER_STATS)}
Row = tuple[np.ndarray, np.ndarray]  # (sorted int64 item indices, float32 values)


@dataclass(frozen=True)
class UserRows:
    """One user's row of each per-user table `ml.online.scorer._candidate_pass` reads."""

    history: Row  # confidence (> 0 only)
    history_profile: Row  # history, l1-normalised: the neighbour sources' profile
    recent_profile: Row  # the sequence profile, l1-normalised
    purchases: Row  # decayed purchases
    purchase_counts: Row
    last_seen: Row  # 1 + days since the last interaction with the item
    factor: np.ndarray  # float32, the ALS factor
    category_share: np.ndarray  # float64 per category
    category_days: np.ndarray  # float32 per category, NaN: never
    stats: np.ndarray  # float32, USER_STATS order
    avg_price: float  # u_avg_price as float64 (the price_ratio feature divides by it)
    priced_purchases: float  # how many purchases u_avg_price averages
    recent: Row  # the sequence profile before normalising (what the next composition shifts)

    @property
    def segment(self) -> int:
        """The favourite category: the largest share of the confidence (0 without any)."""
        return int(np.argmax(self.category_share))


class UserTables:
    """Per-user tables as arrays, one row per user: the bundle's (`of_index`) or the rows of one
    batch (`stack`)."""

    def __init__(self, csr: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 dense: dict[str, np.ndarray]) -> None:
        self.csr = csr  # name -> (indptr, int64 indices, float32 data)
        self.dense = dense

    CSR = ("history", "history_profile", "recent_profile", "purchases", "purchase_counts",
           "last_seen", "recent")
    DENSE = ("factor", "segment", "category_share", "category_days", "stats", "avg_price",
             "priced_purchases")

    @classmethod
    def of_index(cls, index: CandidateIndex) -> UserTables:
        # The neighbour sources' l1 profiles: what `ml.candidates._profile` computes per batch
        # of users, here for all users once.
        matrices = {"history": index.history, "history_profile": normalize(index.history, "l1"),
                    "recent_profile": normalize(index.recent, "l1"),
                    "purchases": index.purchases, "purchase_counts": index.purchase_counts,
                    "last_seen": index.last_seen_days, "recent": index.recent}
        stats = index.user_stats
        n_users = len(index.user_ids)
        priced = (stats[PRICED_PURCHASES].to_numpy(np.float64) if PRICED_PURCHASES in stats
                  else np.zeros(n_users))
        # pair_features casts each stats column from its own dtype to float32: so do we, once.
        dense = {"factor": index.user_factors, "segment": index.user_segment,
                 "category_share": index.user_category_share,
                 "category_days": index.user_category_days,
                 "stats": np.column_stack([stats[n].to_numpy().astype(np.float32)
                                           for n in USER_STATS]),
                 "avg_price": stats["u_avg_price"].to_numpy(), "priced_purchases": priced}
        return cls({name: _csr_arrays(m) for name, m in matrices.items()}, dense)

    @classmethod
    def stack(cls, rows: list[UserRows]) -> UserTables:
        csr = {}
        for name in cls.CSR:
            parts = [getattr(r, name) for r in rows]
            indptr = np.zeros(len(parts) + 1, np.int64)
            indptr[1:] = np.cumsum([len(i) for i, _ in parts])
            csr[name] = (indptr, np.concatenate([i for i, _ in parts]).astype(np.int64, copy=False),
                         np.concatenate([v for _, v in parts]).astype(np.float32, copy=False))
        dense = {name: np.array([getattr(r, name) for r in rows]) for name in cls.DENSE}
        dense["factor"] = dense["factor"].astype(np.float32, copy=False)
        return cls(csr, dense)

    def rows(self, user: int) -> UserRows:
        values = {name: _row(self.csr[name], user) for name in self.CSR}
        values.update({name: self.dense[name][user] for name in self.DENSE if name != "segment"})
        return UserRows(**values)

    @property
    def arrays(self) -> tuple:
        """For `_candidate_pass`, in its order."""
        c, d = self.csr, self.dense
        return (c["history"], (c["history_profile"], c["recent_profile"]), c["purchases"],
                c["purchase_counts"], c["last_seen"], np.ascontiguousarray(d["factor"]),
                d["segment"].astype(np.int64), d["category_share"], d["category_days"],
                d["stats"], d["avg_price"].astype(np.float64))


@dataclass(frozen=True)
class LiveEvents:
    """A visitor's events after the model's cutoff, on catalog items, by time."""

    times: np.ndarray  # seconds since epoch
    items: np.ndarray  # int64 item indices
    weights: np.ndarray  # event-type weights (dbt's seed)
    purchase: np.ndarray  # bool
    quantity: np.ndarray  # float, 1 where the event has none
    price: np.ndarray  # float, NaN where the event has none

    def __len__(self) -> int:
        return len(self.times)


def events_after(recent: tuple[tuple, ...], cutoff: float, item_index: dict[str, int],
                 weights: dict[str, float]) -> LiveEvents | None:
    """A profile's `recent` interactions at or after the model's cutoff, on items of its catalog
    (the point-in-time features leave the others out too); None when there are none. An event
    before the cutoff is taken to be in the model already."""
    rows = [r for r in recent if r[0] >= cutoff and r[1] in item_index]
    if not rows:
        return None
    kinds = [r[2] for r in rows]
    return LiveEvents(
        times=np.array([r[0] for r in rows], dtype=np.float64),
        items=np.array([item_index[r[1]] for r in rows], dtype=np.int64),
        weights=np.array([float(weights.get(k, 0.0)) for k in kinds]),
        purchase=np.array([k == PURCHASE for k in kinds], dtype=bool),
        quantity=np.array([1.0 if r[4] is None else float(r[4]) for r in rows]),
        price=np.array([math.nan if r[5] is None else float(r[5]) for r in rows]))


class LiveRows:
    """Composes a bundle user's rows (or an empty visitor's) with their live events."""

    def __init__(self, index: CandidateIndex, als: AlsParams, half_life_days: float) -> None:
        self.cutoff = float(index.cutoff)
        self.half_life_days = float(half_life_days)
        self.window = index.params.sequence_window
        self.category_codes = index.category_codes
        self.n_categories = len(index.categories)
        self.n_items = index.catalog.size
        with threadpool_limits(1, "blas"):  # one small system per visitor: no BLAS threads
            model = implicit.cpu.als.AlternatingLeastSquares(
                factors=index.item_factors.shape[1], regularization=als.regularization,
                alpha=1.0, num_threads=1)  # the rows come scaled by alpha (`_fold_in`)
        model.item_factors = np.ascontiguousarray(index.item_factors, dtype=np.float32)
        self._als = model
        self._alpha = np.float32(als.alpha)

    def empty(self) -> UserRows:
        """The rows of someone the model has never seen (dbt's row for a user with no events)."""
        none = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        stats = np.zeros(len(USER_STATS), np.float32)
        for name in ("u_days_since_last", "u_avg_price", "u_repeat_item_share"):
            stats[_STAT[name]] = np.nan
        return UserRows(history=none, history_profile=none, recent_profile=none, purchases=none,
                        purchase_counts=none, last_seen=none, recent=none,
                        factor=np.zeros(self._als.factors, np.float32),
                        category_share=np.zeros(self.n_categories),
                        category_days=np.full(self.n_categories, np.nan, np.float32),
                        stats=stats, avg_price=math.nan, priced_purchases=0.0)

    def now(self, events: LiveEvents) -> float:
        return max(self.cutoff, float(events.times.max()) + 1.0)

    def compose(self, base: UserRows, events: LiveEvents) -> UserRows:
        """`base` (the rows at the model's cutoff) with `events` (all after it), at `now`."""
        now = self.now(events)
        elapsed_days = (now - self.cutoff) / SECONDS_PER_DAY
        ages = (now - events.times) / SECONDS_PER_DAY
        factor = self._decay(elapsed_days)
        decayed = self._decay(ages)
        bought = events.purchase

        history = _add(base.history, factor, events.items, events.weights * decayed,
                       self.n_items)
        keep = history[1] > 0  # greatest(sum, 0), zeros dropped
        history = (history[0][keep], history[1][keep])
        purchases = _add(base.purchases, factor, events.items[bought], decayed[bought],
                         self.n_items)
        counts = _add(base.purchase_counts, 1.0, events.items[bought],
                      np.ones(int(bought.sum())), self.n_items)
        last_seen = _newest(base.last_seen, elapsed_days, events.items, 1.0 + ages, self.n_items)
        recent = self._recent(base.recent, events)
        share = np.zeros(self.n_categories)
        np.add.at(share, self.category_codes[history[0]], history[1].astype(np.float64))
        total = share.sum()
        share = share / total if total > 0 else share
        category_days = _newest_dense(base.category_days, elapsed_days,
                                      self.category_codes[events.items], ages)
        stats, avg_price, priced = self._stats(base, events, ages, elapsed_days, counts)
        return UserRows(history, _l1(history), _l1(recent), purchases, counts, last_seen,
                        self._fold_in(history), share, category_days, stats, avg_price, priced,
                        recent)

    def _decay(self, days):
        return np.exp(-math.log(2) * np.asarray(days, dtype=np.float64) / self.half_life_days)

    def _recent(self, base: Row, events: LiveEvents) -> Row:
        """The latest `window` steps: the new ones (distinct moments of positive events) last,
        the bundle's shifted back by their number; an item's weight is its latest step's."""
        positive = events.weights > 0
        moments = np.unique(events.times[positive])
        back_new = len(moments) - 1 - np.searchsorted(moments, events.times[positive])
        back_old = np.rint(1.0 / base[1].astype(np.float64) - 1.0) + len(moments)
        items = np.concatenate([base[0], events.items[positive]])
        back = np.concatenate([back_old, back_new])
        kept = back < self.window
        weight = np.zeros(self.n_items)
        np.maximum.at(weight, items[kept], 1.0 / (1.0 + back[kept]))
        at = np.flatnonzero(weight)
        return at.astype(np.int64), weight[at].astype(np.float32)

    def _stats(self, base: UserRows, events: LiveEvents, ages: np.ndarray, elapsed_days: float,
               counts: Row) -> tuple[np.ndarray, float, float]:
        bought = events.purchase
        stats = base.stats.astype(np.float64)
        stats[_STAT["u_events"]] += len(events)
        stats[_STAT["u_purchases"]] += bought.sum()
        stats[_STAT["u_days_since_last"]] = np.fmin(
            stats[_STAT["u_days_since_last"]] + elapsed_days, ages.min())
        spent = np.nan_to_num(events.price[bought]) * events.quantity[bought]
        stats[_STAT["u_monetary"]] += spent.sum()
        prices = events.price[bought & ~np.isnan(events.price)]
        priced = base.priced_purchases + len(prices)
        if len(prices):
            before = base.avg_price * base.priced_purchases if base.priced_purchases else 0.0
            avg_price = (before + prices.sum()) / priced
        else:
            avg_price = base.avg_price
        stats[_STAT["u_avg_price"]] = avg_price
        n_bought = counts[1][counts[1] > 0]
        stats[_STAT["u_repeat_item_share"]] = ((n_bought >= 2).mean() if len(n_bought)
                                               else np.nan)
        return stats.astype(np.float32), float(avg_price), float(priced)

    def _fold_in(self, history: Row) -> np.ndarray:
        """The ALS factor for this history, as implicit solves it for a user (its
        `recalculate_user`; the confidences scaled by alpha here, as it would scale them)."""
        row = sp.csr_matrix((history[1] * self._alpha, history[0], [0, len(history[0])]),
                            shape=(1, self.n_items), dtype=np.float32)
        return np.asarray(self._als.recalculate_user(0, row), dtype=np.float32)


def _csr_arrays(matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 indptr and indices whatever scipy chose (one compiled signature), float32 data."""
    matrix = sp.csr_matrix(matrix)
    return (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64),
            matrix.data.astype(np.float32, copy=False))


def _l1(row: Row) -> Row:
    """The row divided by the sum of its absolute values, as sklearn's l1 `normalize` (without
    its per-call validation, most of a composition's time)."""
    total = np.abs(row[1].astype(np.float64)).sum()
    return row[0], (row[1] / total).astype(np.float32) if total > 0 else row[1]


def _row(arrays: tuple[np.ndarray, np.ndarray, np.ndarray], i: int) -> Row:
    indptr, indices, data = arrays
    start, end = indptr[i], indptr[i + 1]
    return indices[start:end], data[start:end]


def _add(base: Row, factor: float, items: np.ndarray, values: np.ndarray, n_items: int) -> Row:
    """base x factor + values summed per item (float64 sums, then float32)."""
    dense = np.zeros(n_items)
    dense[base[0]] = base[1].astype(np.float64) * factor
    np.add.at(dense, items, values)
    at = np.union1d(base[0], items).astype(np.int64)
    return at, dense[at].astype(np.float32)


def _newest(base: Row, elapsed_days: float, items: np.ndarray, values: np.ndarray,
            n_items: int) -> Row:
    """Per item the smaller of base + elapsed (base aged to now) and the new values."""
    dense = np.full(n_items, np.inf)
    dense[base[0]] = base[1].astype(np.float64) + elapsed_days
    np.minimum.at(dense, items, values)
    at = np.union1d(base[0], items).astype(np.int64)
    return at, dense[at].astype(np.float32)


def _newest_dense(base: np.ndarray, elapsed_days: float, codes: np.ndarray,
                  ages: np.ndarray) -> np.ndarray:
    aged = np.where(np.isnan(base), np.inf, base.astype(np.float64) + elapsed_days)
    np.minimum.at(aged, codes, ages)
    return np.where(np.isinf(aged), np.nan, aged).astype(np.float32)
