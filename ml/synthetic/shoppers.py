"""Shopper stages: the traffic calendar, each customer's hidden traits, and their sessions
(browse visits plus replenishment visits for staple consumables)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.synthetic.behaviour import (
    BARGAIN,
    CHURNER,
    DAY,
    EXPLORE,
    HOUR_P,
    LC_RATE,
    LC_SHARE,
    LIFECYCLES,
    LOYAL,
    NEW,
    PRICE_FIT,
    WEEKDAY,
)
from ml.synthetic.catalog import Subcategories, SyntheticCatalog
from ml.synthetic.words import CATALOG

SESSION_KINDS = ("browse", "replenish")
BROWSE, REPLENISH = range(2)


@dataclass(frozen=True)
class Window:
    """The simulated span: `days` days ending on the end date; times are seconds since its start."""

    days: int
    horizon: float  # every event happens before this
    last_second: float
    base_us: int  # the window start, microseconds since the epoch
    day_cum: np.ndarray  # cumulative traffic weight: day_cum[d] is the traffic before day d


@dataclass(frozen=True)
class Shoppers:
    """Hidden traits of every customer; user u is row u of every array."""

    lifecycle: np.ndarray  # index into LIFECYCLES
    price_sensitivity: np.ndarray  # 0..1
    taste: np.ndarray  # users x subcategories, rows sum to 1
    active_from: np.ndarray  # first active day
    active_until: np.ndarray  # day after the last active day
    sessions_per_week: np.ndarray  # browse-session rate while active


@dataclass(frozen=True)
class Sessions:
    """Visits; the order is by start, then user, once merged."""

    user: np.ndarray
    start: np.ndarray  # seconds, as drawn (the timing stage moves late ones earlier)
    kind: np.ndarray  # BROWSE or REPLENISH
    intent: np.ndarray  # the subcategory the visit is about
    staple: np.ndarray  # the item a replenish visit rebuys; -1 for browse visits

    @property
    def count(self) -> int:
        return self.user.size


@dataclass(frozen=True)
class Staples:
    """Consumables that users come back to rebuy on a cycle."""

    user: np.ndarray
    sub: np.ndarray
    item: np.ndarray
    cycle: np.ndarray  # seconds


def make_window(days: int, end_date: str) -> Window:
    """The window and its traffic calendar: weight of each day (weekday x season x holidays)."""
    days = int(days)
    horizon = days * DAY
    end_day = np.datetime64(end_date, "D")
    base_us = int(
        (end_day - np.timedelta64(days - 1, "D")).astype("datetime64[us]").astype(np.int64)
    )
    dates = pd.date_range(pd.Timestamp(base_us, unit="us"), periods=days, freq="D")
    season = 1.0 + 0.08 * np.cos(2 * np.pi * (dates.dayofyear.to_numpy() - 350) / 365.25)
    holiday = np.where(
        (dates.month == 11) & (dates.day >= 22),
        1.4,
        np.where((dates.month == 12) & (dates.day <= 22), 1.2, 1.0),
    )
    day_w = WEEKDAY[dates.dayofweek.to_numpy()] / WEEKDAY.mean() * season * holiday
    day_cum = np.concatenate([[0.0], np.cumsum(day_w)])
    return Window(days, horizon, horizon - 1.0, base_us, day_cum)


def draw_shoppers(
    rng: np.random.Generator,
    subs: Subcategories,
    window: Window,
    n_users: int,
    sessions_per_user_per_week: float,
) -> Shoppers:
    """Lifecycle type, price sensitivity, taste, active span and visit rate of every customer."""
    lifecycle = rng.choice(len(LIFECYCLES), n_users, p=LC_SHARE)
    sens = np.where(lifecycle == BARGAIN, rng.beta(8, 2.5, n_users), rng.beta(2, 6, n_users))
    taste = _draw_tastes(rng, subs, n_users)
    active_from, active_until = _draw_active_spans(rng, lifecycle, window.days)
    rate = sessions_per_user_per_week * LC_RATE[lifecycle] * rng.lognormal(-0.125, 0.5, n_users)
    return Shoppers(lifecycle, sens, taste, active_from, active_until, rate)


def _draw_tastes(rng: np.random.Generator, subs: Subcategories, n_users: int) -> np.ndarray:
    """Dirichlet tastes with a big concentration on 1-3 favourite subcategories, often within
    the same top category (a coffee lover is likelier to also like tea than headphones)."""
    n_sub = subs.count
    k_fav = rng.choice([1, 2, 3], n_users, p=[0.35, 0.40, 0.25])
    top_subs = [np.flatnonzero(subs.top == t) for t in range(len(CATALOG))]
    max_len = max(len(s) for s in top_subs)
    top_sub_mat = np.array([np.pad(s, (0, max_len - len(s)), mode="edge") for s in top_subs])
    top_len = np.array([len(s) for s in top_subs])
    alpha = np.full((n_users, n_sub), 0.05)
    fav = rng.choice(n_sub, n_users, p=subs.share)
    rows = np.arange(n_users)
    alpha[rows, fav] = 4.0 / np.sqrt(k_fav)
    for slot in (2, 3):
        same_top = rng.random(n_users) < 0.6
        ft = subs.top[fav]
        sibling = top_sub_mat[ft, (rng.random(n_users) * top_len[ft]).astype(int)]
        other = np.where(same_top, sibling, rng.choice(n_sub, n_users, p=subs.share))
        has = k_fav >= slot
        alpha[rows[has], other[has]] = 4.0 / np.sqrt(k_fav[has])
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def _draw_active_spans(
    rng: np.random.Generator, lifecycle: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Active days [from, until): new users arrive late, churners leave early."""
    n_users = lifecycle.size
    arrival = np.minimum((rng.uniform(0.55, 0.95, n_users) * days).astype(np.int64), days - 1)
    departure = np.maximum((rng.uniform(0.15, 0.6, n_users) * days).astype(np.int64), 1)
    active_from = np.where(lifecycle == NEW, arrival, 0)
    active_until = np.where(lifecycle == CHURNER, departure, days)
    return active_from, active_until


def draw_browse_sessions(
    rng: np.random.Generator, shoppers: Shoppers, subs: Subcategories, window: Window
) -> Sessions:
    """Browse visits: a Poisson count per user over their active span, days by traffic weight,
    hours by HOUR_P, and an intent from the user's taste (or, now and then, anything)."""
    day_cum, a, b = window.day_cum, shoppers.active_from, shoppers.active_until
    expected = shoppers.sessions_per_week / 7.0 * (day_cum[b] - day_cum[a])
    n_browse = np.maximum(1, rng.poisson(expected))  # every customer visits at least once
    user = np.repeat(np.arange(a.size), n_browse)
    lo, hi = day_cum[a[user]], day_cum[b[user]]
    day = np.searchsorted(day_cum, lo + rng.random(user.size) * (hi - lo), side="right") - 1
    day = np.clip(day, a[user], b[user] - 1)
    hour = rng.choice(24, user.size, p=HOUR_P / HOUR_P.sum())
    start = day * DAY + (hour + rng.random(user.size)) * 3600.0
    explore = rng.random(user.size) < EXPLORE
    intent = np.where(
        explore,
        rng.choice(subs.count, user.size, p=subs.share),
        sample_rows(rng, shoppers.taste, user),
    )
    kind = np.full(user.size, BROWSE, np.int8)
    return Sessions(user, start, kind, intent, staple=np.full(user.size, -1))


def draw_staples(
    rng: np.random.Generator, shoppers: Shoppers, catalog: SyntheticCatalog, subs: Subcategories
) -> Staples:
    """Who rebuys which consumable: users with a taste for one (loyal users most readily) pick
    an item of their favourite consumable subcategory that predates the window."""
    n_users = shoppers.lifecycle.size
    consumable = np.flatnonzero(subs.cycle > 0)
    cons_aff = shoppers.taste[:, consumable]
    best = consumable[cons_aff.argmax(axis=1)]
    best_aff = cons_aff.max(axis=1)
    wants = np.where(
        shoppers.lifecycle == LOYAL,
        (best_aff >= 0.05) & (rng.random(n_users) < 0.9),
        (best_aff >= 0.15) & (rng.random(n_users) < 0.3),
    )
    user = np.flatnonzero(wants)
    sub = best[user]
    item = np.full(user.size, -1)
    for k in np.unique(sub):
        in_sub = catalog.by_sub[k]
        cands = in_sub[catalog.created[in_sub] < 0]
        if cands.size == 0:
            continue
        who = np.flatnonzero(sub == k)
        score = (
            catalog.appeal[cands][None, :]
            - PRICE_FIT * shoppers.price_sensitivity[user[who]][:, None] * catalog.price_z[cands]
            + rng.gumbel(size=(who.size, cands.size))
        )
        item[who] = cands[score.argmax(axis=1)]
    keep = item >= 0
    user, sub, item = user[keep], sub[keep], item[keep]
    cycle = subs.cycle[sub] * rng.lognormal(0.0, 0.15, user.size) * DAY
    return Staples(user, sub, item, cycle)


def draw_replenish_sessions(
    rng: np.random.Generator, staples: Staples, shoppers: Shoppers
) -> Sessions:
    """One visit per staple cycle (with some jitter) from a random phase to the end of the
    user's active span."""
    active_from = shoppers.active_from[staples.user] * DAY
    first = active_from + rng.random(staples.user.size) * staples.cycle
    end = shoppers.active_until[staples.user] * DAY
    n_rep = np.where(first < end, np.floor((end - first) / staples.cycle).astype(np.int64) + 1, 0)
    idx = np.repeat(np.arange(staples.user.size), n_rep)
    k = np.arange(idx.size) - np.repeat(np.cumsum(n_rep) - n_rep, n_rep)
    cycle = staples.cycle[idx]
    start = first[idx] + k * cycle + rng.normal(0, 0.1, idx.size) * cycle
    start = np.clip(start, active_from[idx], end[idx] - 1.0)
    kind = np.full(idx.size, REPLENISH, np.int8)
    return Sessions(staples.user[idx], start, kind, staples.sub[idx], staples.item[idx])


def merge_sessions(browse: Sessions, replenish: Sessions) -> Sessions:
    """All sessions in chronological order (ties by user)."""
    user, start, kind, intent, staple = (
        np.concatenate([getattr(browse, f), getattr(replenish, f)])
        for f in ("user", "start", "kind", "intent", "staple")
    )
    order = np.lexsort((user, start))
    return Sessions(user[order], start[order], kind[order], intent[order], staple[order])


def sample_rows(rng: np.random.Generator, prob: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows`, draw a column index from that row of the row-stochastic `prob`."""
    n, k = prob.shape
    cum = np.cumsum(prob, axis=1)
    cum /= cum[:, -1:]  # guard against rounding so every row ends at exactly 1
    # Offsetting row r by r makes the flattened cumulative sums monotone: one searchsorted for all.
    flat = (cum + np.arange(n)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + rng.random(rows.size), side="right")
    return np.clip(pos - rows * k, 0, k - 1)
