"""Interactions as integer-indexed arrays, and the time windows models are trained and judged on.

`EventLog` is `fct_interactions` (one row per event, with the event-type weight from dbt) as
numpy arrays indexed by dense user and item numbers. What a model learns from the event order goes
through a split's visible events (`ml.evaluation.protocols`); the features of users and items come
from dbt for the same cutoffs (`ml.point_in_time`): no model sees an event at or after its cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.schema import GUEST_PREFIX

SECONDS_PER_DAY = 86_400.0
PURCHASE = "purchase"
EVENT_CODES = {
    "view": 0,
    "add_to_cart": 1,
    "remove_from_cart": 2,
    "purchase": 3,
    "return": 4,
    "impression": 5,
    "click": 6,
}


@dataclass(frozen=True)
class Catalog:
    """The items a model can recommend, in index order, with what content and rules need."""

    item_ids: np.ndarray  # str
    category: np.ndarray  # top-level category ("unknown" when the shop has none)
    price: np.ndarray  # float, NaN when unknown
    created_at: np.ndarray  # seconds since epoch (float)
    in_stock: np.ndarray  # bool
    text: pd.DataFrame  # title, description, category_path, brand: content similarity input

    @property
    def size(self) -> int:
        return len(self.item_ids)

    @classmethod
    def from_products(cls, products: pd.DataFrame) -> Catalog:
        """From `dim_products` (item_id, title, description, category_path, category_l1, brand,
        price, is_in_stock, created_at)."""
        products = products.sort_values("item_id").reset_index(drop=True)
        created = pd.to_datetime(products["created_at"])
        return cls(
            item_ids=products["item_id"].astype(str).to_numpy(),
            category=products["category_l1"].fillna("unknown").astype(str).to_numpy(),
            price=products["price"].astype("float64").to_numpy(),
            created_at=_seconds(created.fillna(pd.Timestamp(0))),
            in_stock=products["is_in_stock"].fillna(True).astype(bool).to_numpy(),
            text=products[["title", "description", "category_path", "brand"]]
            .fillna("")
            .astype(str),
        )


@dataclass(frozen=True)
class EventLog:
    """Events as arrays. `user_ids` / catalog item ids give the dense index its meaning."""

    user_ids: np.ndarray  # str, index -> id
    is_guest: np.ndarray  # bool per user
    user: np.ndarray  # int32 per event
    item: np.ndarray  # int32 per event
    event: np.ndarray  # int8 per event (EVENT_CODES)
    weight: np.ndarray  # float32: event-type weight (dbt seed event_type_weights)
    time: np.ndarray  # float64 seconds since epoch
    quantity: np.ndarray  # float32
    price: np.ndarray  # float32 (NaN when unknown)
    basket: np.ndarray  # int64: order (or session) number, for co-purchase

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def __len__(self) -> int:
        return len(self.user)

    @classmethod
    def from_interactions(cls, interactions: pd.DataFrame, catalog: Catalog) -> EventLog:
        """From `fct_interactions`. Events on items outside the catalog are not modelled."""
        frame = interactions[interactions["item_id"].isin(catalog.item_ids)]
        frame = frame.sort_values("occurred_at", kind="stable").reset_index(drop=True)
        user_ids, user = np.unique(frame["user_id"].astype(str).to_numpy(), return_inverse=True)
        item = np.searchsorted(catalog.item_ids, frame["item_id"].astype(str).to_numpy())
        basket_key = (
            frame["order_id"]
            .fillna(frame["session_id"])
            .fillna(frame["user_id"] + "@" + frame["occurred_at"].dt.date.astype(str))
        )
        return cls(
            user_ids=user_ids,
            is_guest=np.char.startswith(user_ids.astype(str), GUEST_PREFIX),
            user=user.astype(np.int32),
            item=item.astype(np.int32),
            event=frame["event_type"].map(EVENT_CODES).fillna(0).astype(np.int8).to_numpy(),
            weight=frame["weight"].astype(np.float32).to_numpy(),
            time=_seconds(frame["occurred_at"]),
            quantity=frame["quantity"].fillna(1).astype(np.float32).to_numpy(),
            price=frame["price"].astype(np.float32).to_numpy(),
            basket=pd.factorize(basket_key)[0].astype(np.int64),
        )

    def where(self, mask: np.ndarray) -> EventLog:
        """The events where `mask` (one bool per event) is true; users keep their indices."""
        return self._select(mask)

    def _select(self, mask: np.ndarray) -> EventLog:
        return replace(
            self,
            user=self.user[mask],
            item=self.item[mask],
            event=self.event[mask],
            weight=self.weight[mask],
            time=self.time[mask],
            quantity=self.quantity[mask],
            price=self.price[mask],
            basket=self.basket[mask],
        )

    def before(self, cutoff: float) -> EventLog:
        """Events strictly before `cutoff` (seconds): everything a model at that time may know."""
        return self._select(self.time < cutoff)

    def between(self, start: float, end: float) -> EventLog:
        return self._select((self.time >= start) & (self.time < end))

    def matrix(self, values: np.ndarray, n_items: int) -> sp.csr_matrix:
        """users x items, summing `values` over events."""
        return sp.csr_matrix(
            (values, (self.user, self.item)), shape=(self.n_users, n_items), dtype=np.float32
        )

    def purchases(self) -> EventLog:
        return self._select(self.event == EVENT_CODES[PURCHASE])


@dataclass(frozen=True)
class Windows:
    """Temporal split (from `ml_temporal_split`), as seconds: train < validation < test <= as_of;
    and the decay half-life the warehouse derived from the shop's purchase rhythm."""

    validation_start: float
    test_start: float
    as_of: float
    half_life_days: float = 30.0
    median_gap_days: float | None = None  # between a customer's consecutive baskets

    @classmethod
    def from_split(cls, split: pd.DataFrame) -> Windows:
        row = split.iloc[0]
        gap = row.get("median_gap_days")
        return cls(
            *(_seconds(pd.Series([row[c]]))[0]
              for c in ("validation_start", "test_start", "as_of")),
            half_life_days=float(row.get("decay_half_life_days", 30.0)),
            median_gap_days=None if gap is None or pd.isna(gap) else float(gap),
        )

    @property
    def validation_days(self) -> float:
        return (self.test_start - self.validation_start) / SECONDS_PER_DAY

    @property
    def test_days(self) -> float:
        return (self.as_of - self.test_start) / SECONDS_PER_DAY

    def describe(self) -> dict:
        """The window bounds as ISO timestamps, and the rhythm the defaults came from."""
        return {
            **{name: datetime.utcfromtimestamp(value).isoformat()
               for name, value in (
                   ("validation_start", self.validation_start),
                   ("test_start", self.test_start),
                   ("as_of", self.as_of),
               )},
            "half_life_days": self.half_life_days,
            "median_gap_days": self.median_gap_days,
        }


def relevant_purchases(
    log: EventLog, start: float, end: float, exclude: sp.csr_matrix | None = None
) -> dict[int, set[int]]:
    """user -> items bought in [start, end), no guests, minus items in `exclude` (user x item)."""
    window = log.between(start, end).purchases()
    truth: dict[int, set[int]] = {}
    for user, item in zip(window.user.tolist(), window.item.tolist(), strict=True):
        if log.is_guest[user]:
            continue
        if exclude is not None and exclude[user, item] > 0:
            continue
        truth.setdefault(user, set()).add(item)
    return truth


def _seconds(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).astype("datetime64[us]").astype("int64").to_numpy() / 1e6
