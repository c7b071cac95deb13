"""The hidden truth's numbers: how items are priced and stocked, how each lifecycle type visits
and buys, and how traffic moves over the day and the week. Kept together so the story can be
tuned in one place; the stage modules only read them."""

from __future__ import annotations

import numpy as np

DAY = 86_400.0  # every time in the simulation is seconds since the window start

# Catalog, indexed by words.TIERS.
TIER_PRICE = np.array([2.0, 1.0, 0.55])  # price multiplier of a brand tier
TIER_ITEMS = np.array([0.7, 1.0, 1.2])  # budget brands carry wider assortments
TIER_APPEAL = np.array([0.2, 0.0, -0.1])  # appeal offset of a brand tier
NEW_ITEM_SHARE = 0.30  # of items, arriving during the window
OUT_OF_STOCK_SHARE = 0.05  # of items, sold out at the end of the window

# Shoppers, indexed by LIFECYCLES.
LIFECYCLES = ("new", "loyal", "bargain_hunter", "churner", "casual")
NEW, LOYAL, BARGAIN, CHURNER, CASUAL = range(5)
LC_SHARE = np.array([0.20, 0.15, 0.15, 0.15, 0.35])
# Browse-session rate while active, relative to sessions_per_user_per_week; normalised so that the
# population average is exactly that parameter.
LC_RATE = np.array([1.2, 3.0, 1.5, 1.8, 0.45])
LC_RATE = LC_RATE / (LC_SHARE @ LC_RATE)
LC_EXTRA_VIEWS = np.array([2.0, 2.5, 3.5, 2.0, 1.5])  # mean views per session beyond the first
LC_CART = np.array([0.0, 0.5, 0.0, -0.1, -0.4])  # add-to-cart log-odds offset
LC_BUY = np.array([-0.2, 1.0, 0.0, -0.3, -0.5])  # cart -> purchase log-odds offset

# Visits.
EXPLORE = 0.15  # share of sessions whose intent ignores taste
STAY_ON_INTENT = 0.75  # share of later views in a session that stay in the intent subcategory
POPULARITY = 0.6  # exponent of rich-get-richer: weight ~ (1 + views so far) ** POPULARITY
PRICE_FIT = 1.2  # how strongly price sensitivity pushes towards cheap items (per sd of log price)
RECENCY_BOOST = 1.0  # log-weight bonus of a brand-new item ...
RECENCY_TAU = 21 * DAY  # ... decaying with this time constant
RETURN_RATE = 0.03  # of durable purchases
MAX_VIEWS = 20  # per session
# No session lasts longer than this (20 views x (900 s dwell + gaps) + checkout < 6 h). Sessions
# that would run past the end of the window are moved earlier by their overflow, so item
# availability is judged at min(start, end - SESSION_MARGIN).
SESSION_MARGIN = 8 * 3600.0

# Traffic. Relative visits by hour of day (UTC): quiet nights, an evening peak.
# fmt: off
HOUR_P = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
                   1.2, 1.1, 1.0, 1.0, 1.1, 1.2, 1.4, 1.7, 1.9, 1.8, 1.3, 0.7])
# fmt: on
WEEKDAY = np.array([0.92, 0.9, 0.92, 0.95, 1.05, 1.3, 1.25])  # Monday..Sunday
