"""Visit stages: what each session views, what gets carted and bought, when each step happens,
and which purchases come back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.synthetic.behaviour import (
    DAY,
    LC_BUY,
    LC_CART,
    LC_EXTRA_VIEWS,
    MAX_VIEWS,
    POPULARITY,
    PRICE_FIT,
    RECENCY_BOOST,
    RECENCY_TAU,
    RETURN_RATE,
    SESSION_MARGIN,
    STAY_ON_INTENT,
)
from ml.synthetic.catalog import Subcategories, SyntheticCatalog
from ml.synthetic.shoppers import REPLENISH, Sessions, Shoppers, Window, sample_rows


@dataclass(frozen=True)
class Views:
    """Views in session order, then view order within the session."""

    session: np.ndarray
    user: np.ndarray
    sub: np.ndarray
    item: np.ndarray  # -1 until items are chosen
    is_staple: np.ndarray  # the opening view of a replenish session, on its staple

    @property
    def opens_session(self) -> np.ndarray:
        return np.r_[True, self.session[1:] != self.session[:-1]]


@dataclass(frozen=True)
class Funnel:
    """What each view led to."""

    dwell: np.ndarray  # seconds on the item page
    carted: np.ndarray
    bought: np.ndarray
    removed: np.ndarray  # carted, not bought, and taken out of the cart
    quantity: np.ndarray
    consumable: np.ndarray  # the item is rebought on a cycle, and never returned


@dataclass(frozen=True)
class Timing:
    """When each session starts and when each view's steps happen, relative to that start."""

    session_start: np.ndarray  # final: late sessions moved earlier to end inside the window
    view_session_start: np.ndarray  # session_start of each view's session
    view_offset: np.ndarray
    cart_delay: np.ndarray  # from the end of the dwell to the add-to-cart
    remove_offset: np.ndarray
    buy_offset: np.ndarray
    n_bought: np.ndarray  # order lines per session


def draw_views(
    rng: np.random.Generator,
    sessions: Sessions,
    shoppers: Shoppers,
    catalog: SyntheticCatalog,
    subs: Subcategories,
    window: Window,
) -> Views:
    """Every distinct item viewed in every session."""
    plan = _plan_views(rng, sessions, shoppers, subs)
    item = _choose_items(rng, plan, sessions, shoppers, catalog, subs.count, window.horizon)
    # A re-view of the same item in a session is folded into the first view.
    first = np.unique(plan.session * catalog.count + item, return_index=True)[1]
    keep = np.zeros(item.size, bool)
    keep[first] = True
    return Views(
        plan.session[keep], plan.user[keep], plan.sub[keep], item[keep], plan.is_staple[keep]
    )


def _plan_views(
    rng: np.random.Generator, sessions: Sessions, shoppers: Shoppers, subs: Subcategories
) -> Views:
    """How many views a session has, and the subcategory of each: mostly the session's intent,
    else a drift to the user's taste or anywhere. A replenish session opens on its staple."""
    n_sess = sessions.count
    extra = np.where(
        sessions.kind == REPLENISH,
        rng.poisson(0.5, n_sess),
        rng.poisson(LC_EXTRA_VIEWS[shoppers.lifecycle[sessions.user]]),
    )
    n_views = 1 + np.minimum(extra, MAX_VIEWS - 1)
    session = np.repeat(np.arange(n_sess), n_views)
    position = np.arange(session.size) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    user = sessions.user[session]
    drift = (position > 0) & (rng.random(session.size) >= STAY_ON_INTENT)
    drift_sub = np.where(
        rng.random(session.size) < 0.6,
        sample_rows(rng, shoppers.taste, user),
        rng.choice(subs.count, session.size, p=subs.share),
    )
    sub = np.where(drift, drift_sub, sessions.intent[session])
    is_staple = (sessions.kind[session] == REPLENISH) & (position == 0)
    item = np.where(is_staple, sessions.staple[session], -1)
    return Views(session, user, sub, item, is_staple)


def _choose_items(
    rng: np.random.Generator,
    plan: Views,
    sessions: Sessions,
    shoppers: Shoppers,
    catalog: SyntheticCatalog,
    n_sub: int,
    horizon: float,
) -> np.ndarray:
    """The item of every planned view. Week by week, so that popularity (views so far) feeds
    back: rich get richer. Items that predate the window start with a history proportional to
    their appeal and age."""
    session, item = plan.session, plan.item.copy()
    age0 = np.clip(-catalog.created, 0, 365 * DAY) / DAY
    pop = rng.poisson(np.exp(catalog.appeal) * age0 / 10.0).astype(float)
    available_at = np.minimum(sessions.start, horizon - SESSION_MARGIN)  # see SESSION_MARGIN
    week = (sessions.start[session] // (7 * DAY)).astype(np.int64)
    n_weeks = int(week.max()) + 1 if week.size else 0
    # Free views grouped by (week, subcategory): one scoring matrix per group.
    free = np.flatnonzero(~plan.is_staple)
    key = week[free] * n_sub + plan.sub[free]
    free = free[np.argsort(key, kind="stable")]
    key = week[free] * n_sub + plan.sub[free]
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], bounds]) if free.size else np.array([], dtype=np.int64)
    ends = np.concatenate([bounds, [free.size]]) if free.size else np.array([], dtype=np.int64)
    group_week = key[starts] // n_sub if free.size else starts
    by_week = np.argsort(week, kind="stable")
    week_bounds = np.searchsorted(week[by_week], np.arange(n_weeks + 1))
    g = 0
    for w in range(n_weeks):
        while g < starts.size and group_week[g] == w:
            sel = free[starts[g] : ends[g]]
            cands = catalog.by_sub[int(key[starts[g]] % n_sub)]
            seen_at = available_at[session[sel]]
            sens = shoppers.price_sensitivity[plan.user[sel]]
            item[sel] = _pick_items(rng, cands, seen_at, sens, pop, catalog)
            g += 1
        item_seen = item[by_week[week_bounds[w] : week_bounds[w + 1]]]
        pop += np.bincount(item_seen, minlength=catalog.count)
    return item


def _pick_items(
    rng: np.random.Generator,
    cands: np.ndarray,
    seen_at: np.ndarray,
    sens: np.ndarray,
    pop: np.ndarray,
    catalog: SyntheticCatalog,
) -> np.ndarray:
    """Gumbel-max pick among `cands` by appeal x popularity x price fit x recency, per view."""
    age = seen_at[:, None] - catalog.created[cands][None, :]
    score = (
        (catalog.appeal[cands] + POPULARITY * np.log1p(pop[cands]))[None, :]
        - PRICE_FIT * sens[:, None] * catalog.price_z[cands][None, :]
        + RECENCY_BOOST * np.exp(-np.maximum(age, 0.0) / RECENCY_TAU)
        + rng.gumbel(size=age.shape)
    )
    score[age < 0] = -np.inf  # not created yet: cannot be seen
    return cands[score.argmax(axis=1)]


def draw_funnel(
    rng: np.random.Generator,
    views: Views,
    sessions: Sessions,
    shoppers: Shoppers,
    catalog: SyntheticCatalog,
    subs: Subcategories,
) -> Funnel:
    """Dwell, add-to-cart and purchase of every view; the odds grow with taste fit and fall with
    price for the price sensitive, and most carts are abandoned."""
    n_v, item = views.item.size, views.item
    aff = shoppers.taste[views.user, catalog.sub[item]]
    lifecycle = shoppers.lifecycle[views.user]
    sens = shoppers.price_sensitivity[views.user]
    appeal, pz = catalog.appeal[item], catalog.price_z[item]
    consumable = subs.cycle[catalog.sub[item]] > 0
    eps = rng.normal(0.0, 1.0, n_v)  # unexplained interest: longer dwell and likelier carting
    dwell = np.round(
        np.clip(
            np.exp(np.log(14.0) + 1.6 * aff + 0.25 * appeal - 0.3 * sens * pz + 0.55 * eps),
            1.0,
            900.0,
        ),
        1,
    )
    cart_logit = (
        -4.1 + 2.2 * aff + 0.5 * appeal - PRICE_FIT * sens * pz + LC_CART[lifecycle] + 0.5 * eps
    )
    p_cart = np.where(views.is_staple, 0.95, 1.0 / (1.0 + np.exp(-cart_logit)))
    # Every event of a session lies before start + SESSION_MARGIN: no cart after stock-out.
    orderable = sessions.start[views.session] + SESSION_MARGIN < catalog.stock_out[item]
    carted = (rng.random(n_v) < p_cart) & orderable
    buy_logit = -2.6 + LC_BUY[lifecycle] + 0.8 * aff + 0.3 * appeal - 1.5 * sens * pz
    p_buy = np.where(views.is_staple, 0.75, 1.0 / (1.0 + np.exp(-buy_logit)))
    bought = carted & (rng.random(n_v) < p_buy)
    carted, bought = _without_repeat_durables(carted, bought, views, consumable, catalog.count)
    removed = carted & ~bought & (rng.random(n_v) < 0.3)
    quantity = _draw_quantities(rng, consumable)
    return Funnel(dwell, carted, bought, removed, quantity, consumable)


def _without_repeat_durables(
    carted: np.ndarray, bought: np.ndarray, views: Views, consumable: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nobody buys the same durable twice: a user who owns it already looks but does not cart
    it. Views are in chronological session order, so the first purchase is the one kept."""
    durable = np.flatnonzero(bought & ~consumable)
    owned = views.user[durable] * n_items + views.item[durable]
    owned_before = np.ones(durable.size, bool)
    owned_before[np.unique(owned, return_index=True)[1]] = False
    carted, bought = carted.copy(), bought.copy()
    carted[durable[owned_before]] = False
    bought[durable[owned_before]] = False
    return carted, bought


def _draw_quantities(rng: np.random.Generator, consumable: np.ndarray) -> np.ndarray:
    """Mostly 1, up to 3; consumables are stocked up on more often."""
    u = rng.random(consumable.size)
    p1, p2 = np.where(consumable, 0.60, 0.88), np.where(consumable, 0.30, 0.09)
    return 1 + (u >= p1).astype(np.int64) + (u >= p1 + p2)


def time_sessions(
    rng: np.random.Generator, views: Views, funnel: Funnel, sessions: Sessions, window: Window
) -> Timing:
    """Seconds of each step: views one after another, then removals, then checkout with order
    lines 1 s apart. A session that would end after the window is moved back to fit."""
    n_v, n_sess = views.item.size, sessions.count
    opens = views.opens_session
    cart_delay = np.where(funnel.carted, rng.uniform(1.0, 8.0, n_v), 0.0)
    step = funnel.dwell + cart_delay + rng.uniform(3.0, 45.0, n_v)
    view_offset = _group_cumsum(step, opens)
    views_end = np.zeros(n_sess)
    np.maximum.at(views_end, views.session, view_offset + step)
    remove_gap = np.where(funnel.removed, rng.uniform(5.0, 40.0, n_v), 0.0)
    remove_offset = views_end[views.session] + _group_cumsum(remove_gap, opens) + remove_gap
    removals = np.bincount(views.session, weights=remove_gap, minlength=n_sess)
    checkout = views_end + removals + rng.uniform(30.0, 240.0, n_sess)
    buy_offset = checkout[views.session] + _group_cumsum(funnel.bought.astype(float), opens)
    n_bought = np.bincount(views.session, weights=funnel.bought, minlength=n_sess)
    length = np.where(n_bought > 0, checkout + n_bought - 1.0, views_end + removals)
    overflow = np.maximum(0.0, sessions.start + length - window.last_second)
    start = sessions.start - overflow
    return Timing(
        session_start=start,
        view_session_start=start[views.session],
        view_offset=view_offset,
        cart_delay=cart_delay,
        remove_offset=remove_offset,
        buy_offset=buy_offset,
        n_bought=n_bought,
    )


def draw_returns(
    rng: np.random.Generator, funnel: Funnel, timing: Timing, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Returned views (purchases of durables) and when they come back, 2-21 days later and
    inside the window."""
    purchase = np.flatnonzero(funnel.bought)
    returned = (rng.random(purchase.size) < RETURN_RATE) & ~funnel.consumable[purchase]
    at = (
        timing.view_session_start[purchase]
        + timing.buy_offset[purchase]
        + rng.uniform(2.0, 21.0, purchase.size) * DAY
    )
    returned &= at <= window.last_second
    return purchase[returned], at[returned]


def _group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of `values` within contiguous groups starting where group_start."""
    cs = np.cumsum(values)
    excl = cs - values
    first = np.flatnonzero(group_start)
    sizes = np.diff(np.append(first, values.size))
    return excl - np.repeat(excl[first], sizes)
