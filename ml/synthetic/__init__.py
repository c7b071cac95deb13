"""Data nobody has to download, all generated from one hidden truth: the synthetic store (this
module: Tailor's built-in demo shop), its next days with or without a shift in behaviour
(`days`: the drift demo and benchmark), and visitors who react to the real service's answers
(`responses`: click, cart and purchase probabilities by taste, price and position; `traffic`:
their requests and events over HTTP, `tailor simulate-traffic`), whose true lift of
personalization is known, so experiment statistics can be checked against it.

Generative story (everything drawn from one `numpy.random.default_rng(seed)`):

1. Catalog. Six top categories split into 3-4 subcategories each; 30 brands, each tied to one top
   category and to a tier (premium / mid / budget). An item gets a subcategory, a brand, a price
   (lognormal around the subcategory's typical price, scaled by the brand tier), a hidden `appeal`,
   and a `created_at`: ~70% existed before the window, the rest arrive during it.
2. Customers. Each user has a lifecycle type (new, loyal, bargain_hunter, churner, casual) that
   sets when they are active, how often they visit and how readily they buy; a Dirichlet taste over
   subcategories concentrated on 1-3 of them; a price sensitivity; demographics and consent flags.
3. Sessions. Visits arrive as a Poisson process per user, shaped by weekday (weekends busier), hour
   of day and a mild yearly / holiday bump. A session has an intent subcategory (the user's taste,
   15% exploration); each view picks an item of a subcategory by appeal x popularity so far
   (rich-get-richer, updated week by week) x price fit x recency, and never an item that did not
   exist yet. Dwell, add-to-cart and purchase odds grow with taste fit; most carts are abandoned.
   Users with a taste for consumables (coffee, tea, pet food, skincare) come back on a cycle to
   rebuy their "staple" item; loyal users do so most.

The result has exactly the columns and dtypes of `ml.schema`. The hidden truth (tastes, lifecycle,
appeal, staples, session intents) is returned separately in `SyntheticStore.truth` so that
evaluations and visitor simulations can use it; it is never joined into the events.

`generate_store` runs the stages in `catalog`, `shoppers`, `visits` and `frames`; the word lists are
in `words` and the numbers of the hidden truth in `behaviour`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.synthetic.behaviour import LIFECYCLES
from ml.synthetic.catalog import build_catalog, subcategories
from ml.synthetic.frames import (
    customers_frame,
    events_frame,
    make_ids,
    products_frame,
    truth_tables,
)
from ml.synthetic.shoppers import (
    draw_browse_sessions,
    draw_replenish_sessions,
    draw_shoppers,
    draw_staples,
    make_window,
    merge_sessions,
)
from ml.synthetic.visits import draw_funnel, draw_returns, draw_views, time_sessions
from ml.synthetic.words import CATALOG

__all__ = ["SyntheticParams", "SyntheticStore", "generate_store", "CATALOG", "LIFECYCLES"]


@dataclass(frozen=True)
class SyntheticParams:
    """Size and seed of a synthetic store. Same params -> identical frames."""

    seed: int = 7
    n_users: int = 2_000
    n_items: int = 500
    days: int = 120
    end_date: str = "2026-10-31"  # last day of activity (UTC); fixed so the output is deterministic
    sessions_per_user_per_week: float = 1.0  # average; lifecycle types scale it

    @classmethod
    def preset(cls, size: str) -> SyntheticParams:
        """ "small": the defaults (~86k events, well under a second); "1m": ~1,000,000 events
        (30k users, 5k items, 180 days, a few seconds)."""
        if size == "small":
            return cls()
        if size == "1m":
            return cls(n_users=30_000, n_items=5_000, days=180, sessions_per_user_per_week=0.42)
        raise ValueError(f"unknown preset {size!r}; expected 'small' or '1m'")


@dataclass(frozen=True)
class SyntheticStore:
    """Frames of the contract plus the hidden truth.

    truth tables (all ids as in the frames, strings as pandas "string"):
      user_tastes  user_id, category_path, affinity: the Dirichlet taste over every subcategory;
                   sums to 1 per user (one row per user x subcategory).
      users        user_id, lifecycle (one of LIFECYCLES), price_sensitivity (0..1, how strongly the
                   user prefers cheaper items of a subcategory), sessions_per_week (browse-session
                   rate while active), active_from / active_until (the span sessions were drawn in).
      items        item_id, category_path, appeal (log-weight of intrinsic attractiveness),
                   price_z (log price standardised within the subcategory), out_of_stock_since
                   (NaT when in stock; nothing is carted or bought after it).
      staples      user_id, item_id, cycle_days: consumables a user comes back to rebuy on a cycle.
      sessions     session_id, user_id, started_at, intent (the subcategory the visit was about),
                   kind ("browse" or "replenish").
    """

    events: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    truth: dict[str, pd.DataFrame]


def generate_store(params: SyntheticParams) -> SyntheticStore:
    """Generate the synthetic store described by `params` (see the module docstring)."""
    subs = subcategories()
    if params.n_users < 1 or params.days < 1:
        raise ValueError("n_users and days must be >= 1")
    if params.n_items < subs.count:
        raise ValueError(f"n_items must be >= {subs.count} (one item per subcategory)")
    # All stages draw from this one stream in the order below: reordering them, or the draws
    # inside them, changes every frame of a seed.
    rng = np.random.default_rng(params.seed)
    window = make_window(params.days, params.end_date)
    catalog = build_catalog(rng, subs, params.n_items, window.horizon)
    shoppers = draw_shoppers(rng, subs, window, params.n_users, params.sessions_per_user_per_week)
    browse = draw_browse_sessions(rng, shoppers, subs, window)
    staples = draw_staples(rng, shoppers, catalog, subs)
    sessions = merge_sessions(browse, draw_replenish_sessions(rng, staples, shoppers))
    views = draw_views(rng, sessions, shoppers, catalog, subs, window)
    funnel = draw_funnel(rng, views, sessions, shoppers, catalog, subs)
    timing = time_sessions(rng, views, funnel, sessions, window)
    returns = draw_returns(rng, funnel, timing, window)
    ids = make_ids(params.n_users, params.n_items, sessions.count)
    return SyntheticStore(
        events=events_frame(views, funnel, timing, returns, catalog, ids, window),
        products=products_frame(catalog, subs, ids, window),
        customers=customers_frame(rng, shoppers, sessions, timing, ids, window),
        truth=truth_tables(shoppers, catalog, subs, staples, sessions, timing, ids, window),
    )
