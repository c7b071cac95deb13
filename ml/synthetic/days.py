"""New days of a shop's data, with or without a shift in behaviour: the drift demo and benchmark.

The next `days` days after `as_of` are made by resampling the shop's own recent sessions (the last
`source_days`) forward in time: every new day draws, with replacement, sessions that started on the
same weekday in the source window, as many as such a day had on average (Poisson), and moves them
by whole days, time of day and order of events kept. Returns of the orders copied come along when
they fall inside the new window. New customers keep arriving at the source window's rate: a
customer first seen in the source window is cloned under a new id (with a copy of their profile)
and their events since arrival are moved to a random arrival time in the new window. So
`shift="none"` is the same data-generating process, the baseline for measuring false alarms; the
shifts change it on purpose:

- `taste`: a share of the users active in the new window move their interest to one top category
  (the least popular one of the source window): every item they look at or buy becomes the item of
  the same popularity rank in that category.
- `new-category`: a new top category of products (`garden`) arrives at the start of the window and
  a share of the new sessions go to it (the item of the same popularity rank among the new ones).

Pure pandas/numpy, deterministic by `seed`. The output keeps the data contract (`ml.schema`): new
event, session, order and user ids are prefixed by the batch (`b<first day>-`) so they never collide
with existing ones, every event lies inside the new window, every item exists in the catalog
(existing products plus the new ones returned) and every user in the customers (existing plus new).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.schema import (
    CATEGORY_SEPARATOR,
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    GUEST_PREFIX,
    PRODUCT_COLUMNS,
)

SHIFTS = ("none", "taste", "new-category")
DAY = pd.Timedelta(days=1)

NEW_CATEGORY = "garden"
# subcategory -> (typical price, nouns, materials)
NEW_CATEGORY_ITEMS = {
    "plants": (18.0, ["Monstera", "Olive Tree", "Fiddle Leaf Fig", "Herb Trio"], ["a clay pot"]),
    "tools": (
        35.0,
        ["Pruning Shears", "Hand Trowel", "Watering Can", "Garden Fork"],
        ["forged steel", "powder-coated steel", "ash wood"],
    ),
    "outdoor": (
        120.0,
        ["Bistro Set", "Lounge Chair", "Parasol", "Planter Box"],
        ["acacia wood", "rattan", "galvanised steel"],
    ),
}
NEW_BRANDS = ("Fernhill", "Rootstock", "Terrace & Co")


@dataclass(frozen=True)
class DriftParams:
    days: int = 7
    shift: str = "none"  # one of SHIFTS
    seed: int = 0
    source_days: int = 28  # recent history the new days are resampled from
    taste_share: float = 0.6  # taste: share of the window's users whose interest moves
    new_category_share: float = 0.4  # new-category: share of new sessions that go to it
    new_items_share: float = 0.1  # new-category: new products, as a share of the catalog

    def __post_init__(self) -> None:
        if self.shift not in SHIFTS:
            raise ValueError(f"shift: {self.shift!r} is not one of {', '.join(SHIFTS)}")
        if not 1 <= self.days <= 90:
            raise ValueError(f"days: must be between 1 and 90, got {self.days}")


@dataclass(frozen=True)
class SimulatedBatch:
    """The rows to append: new events, products (may be empty) and customers (contract columns)."""

    events: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    window_start: pd.Timestamp  # first instant of the new window (inclusive)
    window_end: pd.Timestamp  # end of the new window (exclusive)
    params: DriftParams
    shifted: str  # what was shifted, for a human

    @property
    def as_of(self) -> pd.Timestamp:
        """The newest new event: the reference time of the load after appending."""
        return pd.Timestamp(self.events["occurred_at"].max())

    def describe(self) -> str:
        sessions = self.events["session_id"].nunique()
        return (
            f"{self.params.days} new days {self.window_start:%Y-%m-%d} .. "
            f"{self.window_end - DAY:%Y-%m-%d}: {len(self.events):,} events in {sessions:,} "
            f"sessions resampled from the last {self.params.source_days} days, "
            f"{len(self.customers)} new customers, {len(self.products)} new products; "
            f"shift {self.params.shift}: {self.shifted}"
        )


def simulate_days(
    events: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
    params: DriftParams,
) -> SimulatedBatch:
    """`events`, `products`, `customers`: the shop's contract tables (raw.events, ...)."""
    rng = np.random.default_rng(params.seed)
    as_of = pd.Timestamp(as_of)
    window_start = as_of.floor("D") + DAY
    window_end = window_start + params.days * DAY
    batch = f"b{window_start:%Y%m%d}"
    source = events[
        (events["occurred_at"] > as_of - params.source_days * DAY)
        & (events["occurred_at"] <= as_of)
        & (events["event_type"] != "return")
    ].copy()
    if source.empty:
        raise ValueError(f"no events in the {params.source_days} days before {as_of}")
    source["visit"] = _visit_keys(source)

    copies = _sample_visits(source, window_start, params.days, rng)
    new = source.merge(copies, on="visit", how="inner")
    new["occurred_at"] = new["occurred_at"] + new["shift_days"] * DAY
    new = pd.concat([new, _returns_of(events, new)], ignore_index=True)
    arrivals, new_customers = _new_customers(
        events, customers, source, window_start, params, batch, rng, first_copy=len(copies)
    )
    new = pd.concat([new, arrivals], ignore_index=True)
    new = new[new["occurred_at"] < window_end]
    new = new.sort_values(["occurred_at", "copy"], kind="stable").reset_index(drop=True)

    catalog = _top_categories(products)
    new_products = pd.DataFrame({c: pd.Series(dtype=t) for c, t in PRODUCT_COLUMNS.items()})
    shifted = "nothing (the same process)"
    if params.shift == "taste":
        new, shifted = _shift_taste(new, source, catalog, params.taste_share, rng)
    elif params.shift == "new-category":
        new_products = _new_products(products, window_start, params.new_items_share, batch, rng)
        new, shifted = _shift_to_new_category(
            new, source, catalog, new_products, params.new_category_share, rng
        )

    new["event_id"] = [f"{batch}-e{i:08d}" for i in range(len(new))]
    sessions = pd.factorize(new["copy"])[0]
    new["session_id"] = pd.Series(
        [f"{batch}-s{i:07d}" for i in sessions], index=new.index, dtype="string"
    ).where(new["session_id"].notna())
    orders = pd.factorize(new["order_id"].astype("string") + "#" + new["copy"].astype(str))[0]
    new["order_id"] = pd.Series(
        [f"{batch}-o{i:07d}" for i in orders], index=new.index, dtype="string"
    ).where(new["order_id"].notna())
    taken = set(events["event_id"].astype(str))
    if taken.intersection(new["event_id"]):
        raise ValueError(f"batch {batch} was appended before: its event ids already exist")
    first_seen = new.groupby("user_id")["occurred_at"].min()
    new_customers = new_customers[new_customers["user_id"].isin(first_seen.index)]
    new_customers = _arrived(new_customers, first_seen)
    return SimulatedBatch(
        events=new[list(EVENT_COLUMNS)].astype(EVENT_COLUMNS).reset_index(drop=True),
        products=new_products.astype(PRODUCT_COLUMNS).reset_index(drop=True),
        customers=new_customers[list(CUSTOMER_COLUMNS)].astype(CUSTOMER_COLUMNS),
        window_start=window_start,
        window_end=window_end,
        params=params,
        shifted=shifted,
    )


def _visit_keys(events: pd.DataFrame) -> pd.Series:
    """A session: the source's session id, else the user's day (as dbt's int_sessions does)."""
    day_key = events["user_id"].astype(str) + "@" + events["occurred_at"].dt.strftime("%Y-%m-%d")
    return events["session_id"].astype("string").fillna(day_key)


def _sample_visits(
    source: pd.DataFrame, window_start: pd.Timestamp, days: int, rng: np.random.Generator
) -> pd.DataFrame:
    """copy (a new session number), visit (the source session copied), shift_days."""
    visits = source.groupby("visit", sort=True)["occurred_at"].min().rename("start").reset_index()
    visits["day"] = visits["start"].dt.floor("D")
    frames, copy = [], 0
    for k in range(days):
        day = window_start + k * DAY
        pool = visits[visits["day"].dt.dayofweek == day.dayofweek]
        if pool.empty:
            pool = visits
        n = int(rng.poisson(len(pool) / pool["day"].nunique()))
        picked = pool.iloc[rng.integers(len(pool), size=n)]
        frames.append(
            pd.DataFrame(
                {
                    "copy": np.arange(copy, copy + n),
                    "visit": picked["visit"].to_numpy(),
                    "shift_days": ((day - picked["day"]) / DAY).to_numpy().astype(np.int64),
                }
            )
        )
        copy += n
    return pd.concat(frames, ignore_index=True)


def _new_customers(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    source: pd.DataFrame,
    window_start: pd.Timestamp,
    params: DriftParams,
    batch: str,
    rng: np.random.Generator,
    first_copy: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clones of the customers first seen in the source window, arriving in the new window:
    their events since arrival (visits numbered from `first_copy`) and their profiles."""
    first = events.groupby("user_id")["occurred_at"].min()
    newcomers = first[
        (first > source["occurred_at"].min())
        & ~first.index.astype(str).str.startswith(GUEST_PREFIX)
    ].sort_index()
    n = int(rng.poisson(len(newcomers) * params.days / params.source_days)) if len(newcomers) else 0
    picked = newcomers.index.to_numpy()[rng.integers(len(newcomers), size=n)] if n else []
    arrival = window_start + pd.to_timedelta(rng.random(n) * params.days * 86_400, unit="s")
    frames, profiles, copy = [], [], first_copy
    by_user = source.groupby("user_id")
    for j, (user, at) in enumerate(zip(picked, arrival, strict=True)):
        clone = f"{batch}-u{j:05d}"
        mine = by_user.get_group(user).copy()
        mine["occurred_at"] = mine["occurred_at"] + (at - newcomers[user])
        visits = pd.factorize(mine["visit"])[0]
        mine["copy"] = copy + visits
        copy += int(visits.max()) + 1
        frames.append(mine.assign(user_id=clone))
        # a clone has a profile when the customer it copies has one
        profiles.append(customers[customers["user_id"] == user].head(1).assign(user_id=clone))
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in CUSTOMER_COLUMNS.items()})
    arrivals = pd.concat(frames, ignore_index=True) if frames else source.head(0)
    return arrivals, pd.concat([empty, *profiles], ignore_index=True)


def _arrived(customers: pd.DataFrame, first_seen: pd.Series) -> pd.DataFrame:
    """A clone's profile dates from its first event; consents recorded then, as at a signup."""
    at = customers["user_id"].map(first_seen)
    out = customers.assign(first_seen_at=at)
    for column in ("consent_personalization", "consent_marketing"):
        out[f"{column}_at"] = at.where(out[column].notna())
    return out.reset_index(drop=True)


def _returns_of(events: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Returns of the orders copied, moved by the same number of days."""
    returns = events[(events["event_type"] == "return") & events["order_id"].notna()]
    ordered = new[new["order_id"].notna()][["order_id", "copy", "shift_days", "visit"]]
    ordered = ordered.drop_duplicates(["order_id", "copy"])
    copied = returns.merge(ordered, on="order_id", how="inner")
    copied["occurred_at"] = copied["occurred_at"] + copied["shift_days"] * DAY
    return copied


def _top_categories(products: pd.DataFrame) -> pd.DataFrame:
    """item_id, category (top level of category_path; "unknown" when none), price."""
    top = products["category_path"].astype("string").str.split(CATEGORY_SEPARATOR).str[0]
    return pd.DataFrame(
        {
            "item_id": products["item_id"].astype(str).to_numpy(),
            "category": top.fillna("unknown").str.strip().to_numpy(),
            "price": products["price"].to_numpy(dtype="float64"),
        }
    )


def _ranked(source: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """items with their popularity rank within their category in the source window (0 = most)."""
    counts = source["item_id"].astype(str).value_counts()
    ranked = items.assign(events=items["item_id"].map(counts).fillna(0).to_numpy())
    ranked = ranked.sort_values(["category", "events", "item_id"], ascending=[True, False, True])
    return ranked.assign(rank=ranked.groupby("category").cumcount())


def _remap(new: pd.DataFrame, mask: pd.Series, mapping: pd.Series, prices: pd.Series) -> None:
    """Replace the items of the masked events (in place), with their catalog price."""
    items = new.loc[mask, "item_id"].astype(str).map(mapping)
    moved = items.notna()
    index = items.index[moved]
    new.loc[index, "item_id"] = items[moved]
    has_price = new.loc[index, "price"].notna()
    new.loc[index[has_price], "price"] = items[moved][has_price].map(prices).to_numpy()


def _shift_taste(
    new: pd.DataFrame,
    source: pd.DataFrame,
    catalog: pd.DataFrame,
    share: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, str]:
    ranked = _ranked(source, catalog)
    by_category = source["item_id"].astype(str).map(catalog.set_index("item_id")["category"])
    target = by_category.value_counts().sort_index().idxmin()  # least popular, ties by name
    targets = ranked[ranked["category"] == target].sort_values("rank")["item_id"].to_numpy()
    mapping = pd.Series(
        targets[ranked["rank"].to_numpy() % len(targets)], index=ranked["item_id"].to_numpy()
    )
    users = np.sort(new["user_id"].astype(str).unique())
    movers = users[rng.random(len(users)) < share]
    _remap(
        new, new["user_id"].astype(str).isin(movers), mapping, catalog.set_index("item_id")["price"]
    )
    return new, f"{len(movers):,} of {len(users):,} users moved their interest to {target!r}"


def _new_products(
    products: pd.DataFrame,
    window_start: pd.Timestamp,
    share: float,
    batch: str,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = max(len(NEW_CATEGORY_ITEMS), int(round(share * len(products))))
    subs = list(NEW_CATEGORY_ITEMS)
    rows = []
    for i in range(n):
        sub = subs[i % len(subs)]
        price, nouns, materials = NEW_CATEGORY_ITEMS[sub]
        brand = NEW_BRANDS[int(rng.integers(len(NEW_BRANDS)))]
        noun = nouns[int(rng.integers(len(nouns)))]
        material = materials[int(rng.integers(len(materials)))]
        rows.append(
            {
                "item_id": f"{batch}-i{i:05d}",
                "title": f"{brand} {noun}",
                "description": f"A {noun.lower()} in {material}, new in our garden range.",
                "category_path": f"{NEW_CATEGORY}{CATEGORY_SEPARATOR}{sub}",
                "brand": brand,
                "price": float(np.floor(price * rng.lognormal(0.0, 0.3))) + 0.99,
                "in_stock": True,
                # listed in the hour before the window opens, so every session can see them
                "created_at": window_start - pd.Timedelta(seconds=int(rng.integers(1, 3600))),
            }
        )
    return pd.DataFrame(rows)


def _shift_to_new_category(
    new: pd.DataFrame,
    source: pd.DataFrame,
    catalog: pd.DataFrame,
    new_products: pd.DataFrame,
    share: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, str]:
    ranked = _ranked(source, catalog)
    targets = new_products["item_id"].to_numpy()
    mapping = pd.Series(
        targets[ranked["rank"].to_numpy() % len(targets)], index=ranked["item_id"].to_numpy()
    )
    copies = np.sort(new["copy"].unique())
    moved = copies[rng.random(len(copies)) < share]
    prices = new_products.set_index("item_id")["price"]
    _remap(new, new["copy"].isin(moved), mapping, prices)
    return new, (
        f"{len(new_products)} {NEW_CATEGORY!r} products arrived; {len(moved):,} of "
        f"{len(copies):,} sessions went to them"
    )
