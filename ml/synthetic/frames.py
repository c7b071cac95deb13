"""Frame stages: the contract's events, products and customers (with the customer attributes
that no behaviour depends on, drawn last), and the hidden-truth tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS
from ml.synthetic.behaviour import DAY, LIFECYCLES, NEW
from ml.synthetic.catalog import BRAND_NAMES, Subcategories, SyntheticCatalog
from ml.synthetic.shoppers import SESSION_KINDS, Sessions, Shoppers, Staples, Window
from ml.synthetic.visits import Funnel, Timing, Views
from ml.synthetic.words import AGE_BANDS, AGE_P, COUNTRIES, COUNTRY_P, GENDER_P, GENDERS

# In funnel order, so that sorting by code keeps a view's simultaneous events in that order.
EV_VIEW, EV_CART, EV_REMOVE, EV_PURCHASE, EV_RETURN = range(5)
EVENT_NAMES = np.array(
    ["view", "add_to_cart", "remove_from_cart", "purchase", "return"], dtype=object
)


@dataclass(frozen=True)
class Ids:
    """Public ids of users, items and sessions."""

    user: np.ndarray
    item: np.ndarray
    session: np.ndarray  # one extra entry, None, for events outside any session (returns)


def make_ids(n_users: int, n_items: int, n_sessions: int) -> Ids:
    """Zero-padded ids: u000000.., i00000.., s0000001.. (sessions in start order)."""
    return Ids(
        user=_ids("u", n_users, 6),
        item=_ids("i", n_items, 5),
        session=np.append(_ids("s", n_sessions, 7, start=1), None),
    )


def events_frame(
    views: Views,
    funnel: Funnel,
    timing: Timing,
    returns: tuple[np.ndarray, np.ndarray],
    catalog: SyntheticCatalog,
    ids: Ids,
    window: Window,
) -> pd.DataFrame:
    """The events table: one row per view, cart, removal, purchase line and return, in time
    order; event and order ids follow that order."""
    row, kind, at, session = _order_events(views, funnel, timing, returns, window.last_second)
    n_ev = row.size
    has_order = timing.n_bought > 0
    order_no = np.cumsum(has_order) - 1  # orders are numbered in session (start time) order
    order_ids = _ids("o", int(has_order.sum()), 7, start=1)
    item = views.item[row]
    quantity = np.where(kind == EV_VIEW, 0, funnel.quantity[row])
    order = np.full(n_ev, None, dtype=object)
    with_order = (kind == EV_PURCHASE) | (kind == EV_RETURN)
    order[with_order] = order_ids[order_no[views.session[row[with_order]]]]
    none = np.full(n_ev, None, dtype=object)
    return _frame(
        EVENT_COLUMNS,
        {
            "event_id": _str(_ids("e", n_ev, 8, start=1)),
            "user_id": _str(ids.user[views.user[row]]),
            "session_id": _str(ids.session[session]),
            "item_id": _str(ids.item[item]),
            "event_type": _str(EVENT_NAMES[kind]),
            "occurred_at": _ts(window.base_us, at),
            "quantity": pd.arrays.IntegerArray(quantity.astype(np.int64), kind == EV_VIEW),
            "price": catalog.price[item],
            "order_id": _str(order),
            "dwell_seconds": np.where(kind == EV_VIEW, funnel.dwell[row], np.nan),
            "placement": _str(none),
            "request_id": _str(none),
        },
    )


def _order_events(
    views: Views,
    funnel: Funnel,
    timing: Timing,
    returns: tuple[np.ndarray, np.ndarray],
    last_second: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every event as (view row, type code, time, session index), sorted by time."""
    start, offset = timing.view_session_start, timing.view_offset
    carts, removals = np.flatnonzero(funnel.carted), np.flatnonzero(funnel.removed)
    purchases = np.flatnonzero(funnel.bought)
    returned, returned_at = returns
    parts = [  # (view rows, type, time)
        (np.arange(views.item.size), EV_VIEW, start + offset),
        (
            carts,
            EV_CART,
            start[carts] + offset[carts] + funnel.dwell[carts] + timing.cart_delay[carts] * 0.5,
        ),
        (removals, EV_REMOVE, start[removals] + timing.remove_offset[removals]),
        (purchases, EV_PURCHASE, start[purchases] + timing.buy_offset[purchases]),
        (returned, EV_RETURN, returned_at),
    ]
    row = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(p[0].size, p[1]) for p in parts])
    at = np.minimum(np.concatenate([p[2] for p in parts]), last_second)
    n_sess = timing.session_start.size
    session = np.where(kind == EV_RETURN, n_sess, views.session[row])  # index n_sess: no session
    order = np.lexsort((kind, row, session, at))
    return row[order], kind[order], at[order], session[order]


def products_frame(catalog: SyntheticCatalog, subs: Subcategories, ids: Ids,
                   window: Window) -> pd.DataFrame:
    """The products table."""
    return _frame(
        PRODUCT_COLUMNS,
        {
            "item_id": _str(ids.item),
            "title": _str(np.array(catalog.titles, dtype=object)),
            "description": _str(np.array(catalog.descriptions, dtype=object)),
            "category_path": _str(subs.path[catalog.sub]),
            "brand": _str(BRAND_NAMES[catalog.brand]),
            "price": catalog.price,
            "in_stock": pd.arrays.BooleanArray(catalog.in_stock, np.zeros(catalog.count, bool)),
            "created_at": _ts(window.base_us, catalog.created),
        },
    )


def customers_frame(
    rng: np.random.Generator,
    shoppers: Shoppers,
    sessions: Sessions,
    timing: Timing,
    ids: Ids,
    window: Window,
) -> pd.DataFrame:
    """The customers table: first seen at signup or first visit, consent flags, demographics."""
    n_users = shoppers.lifecycle.size
    first_visit = np.full(n_users, np.inf)
    np.minimum.at(first_visit, sessions.user, timing.session_start)
    # Three in four of those active from the start signed up before the window opened.
    early = (shoppers.lifecycle != NEW) & (rng.random(n_users) < 0.75)
    signup = np.where(early, -rng.uniform(1, 730, n_users) * DAY, np.inf)
    first_seen = np.minimum(first_visit, signup)
    personalization, personalization_at = _draw_consent(rng, 0.90, first_seen, window.last_second)
    marketing, marketing_at = _draw_consent(rng, 0.60, first_seen, window.last_second)
    gender = _pick(rng, GENDERS, GENDER_P, n_users)
    country = _pick(rng, COUNTRIES, COUNTRY_P, n_users)
    age_band = _pick(rng, AGE_BANDS, AGE_P, n_users)
    no_mask = np.zeros(n_users, bool)
    return _frame(
        CUSTOMER_COLUMNS,
        {
            "user_id": _str(ids.user),
            "first_seen_at": _ts(window.base_us, first_seen),
            "country": _str(country),
            "age_band": _str(age_band),
            "gender": _str(gender),
            "consent_personalization": pd.arrays.BooleanArray(personalization, no_mask),
            "consent_personalization_at": _ts(window.base_us, personalization_at),
            "consent_marketing": pd.arrays.BooleanArray(marketing, no_mask.copy()),
            "consent_marketing_at": _ts(window.base_us, marketing_at),
        },
    )


def _draw_consent(
    rng: np.random.Generator, p_yes: float, first_seen: np.ndarray, last_second: float
) -> tuple[np.ndarray, np.ndarray]:
    """Consent and when it was given: mostly at signup; some users decide (or change their mind)
    later, never after the window."""
    n = first_seen.size
    yes = rng.random(n) < p_yes
    later = rng.random(n) < 0.15
    delay = np.where(later, rng.uniform(1, 90, n) * DAY, rng.uniform(0, 120, n))
    at = np.minimum(first_seen + delay, np.maximum(first_seen, last_second))
    return yes, at


def _pick(rng: np.random.Generator, choices: tuple, p: tuple, n: int) -> np.ndarray:
    """`n` draws from `choices` with probabilities `p`, as an object array."""
    return np.array(choices, dtype=object)[rng.choice(len(choices), n, p=p)]


def truth_tables(
    shoppers: Shoppers,
    catalog: SyntheticCatalog,
    subs: Subcategories,
    staples: Staples,
    sessions: Sessions,
    timing: Timing,
    ids: Ids,
    window: Window,
) -> dict[str, pd.DataFrame]:
    """The hidden truth behind the frames (described on SyntheticStore)."""
    n_users, n_sess, base_us = shoppers.lifecycle.size, sessions.count, window.base_us
    active_until = np.minimum(shoppers.active_until * DAY, window.horizon) - 1.0
    return {
        "user_tastes": pd.DataFrame(
            {
                "user_id": _str(np.repeat(ids.user, subs.count)),
                "category_path": _str(np.tile(subs.path, n_users)),
                "affinity": shoppers.taste.ravel(),
            }
        ),
        "users": pd.DataFrame(
            {
                "user_id": _str(ids.user),
                "lifecycle": _str(np.array(LIFECYCLES, dtype=object)[shoppers.lifecycle]),
                "price_sensitivity": shoppers.price_sensitivity,
                "sessions_per_week": shoppers.sessions_per_week,
                "active_from": _ts(base_us, shoppers.active_from * DAY),
                "active_until": _ts(base_us, active_until),
            }
        ),
        "items": pd.DataFrame(
            {
                "item_id": _str(ids.item),
                "category_path": _str(subs.path[catalog.sub]),
                "appeal": catalog.appeal,
                "price_z": catalog.price_z,
                "out_of_stock_since": _ts(
                    base_us, np.where(np.isfinite(catalog.stock_out), catalog.stock_out, np.nan)
                ),
            }
        ),
        "staples": pd.DataFrame(
            {
                "user_id": _str(ids.user[staples.user]),
                "item_id": _str(ids.item[staples.item]),
                "cycle_days": staples.cycle / DAY,
            }
        ),
        "sessions": pd.DataFrame(
            {
                "session_id": _str(ids.session[:n_sess]),
                "user_id": _str(ids.user[sessions.user]),
                "started_at": _ts(base_us, timing.session_start),
                "intent": _str(subs.path[sessions.intent]),
                "kind": _str(np.array(SESSION_KINDS, dtype=object)[sessions.kind]),
            }
        ),
    }


def _ids(prefix: str, n: int, width: int, start: int = 0) -> np.ndarray:
    """`n` ids "<prefix><number>", zero-padded to `width` digits (wider if needed)."""
    width = max(width, len(str(start + n - 1)) if n else width)
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


def _str(values: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(values, dtype="string")


def _ts(base_us: int, seconds: np.ndarray) -> np.ndarray:
    """Seconds since the window start -> datetime64[us] (NaN -> NaT)."""
    seconds = np.asarray(seconds, dtype=float)
    out = np.full(seconds.shape, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    ok = np.isfinite(seconds)
    out[ok] = base_us + np.floor(seconds[ok] * 1e6).astype(np.int64)
    return out.view("datetime64[us]")


def _frame(columns: dict[str, str], data: dict[str, object]) -> pd.DataFrame:
    df = pd.DataFrame({name: data[name] for name in columns})
    return df.astype(columns, copy=False)
