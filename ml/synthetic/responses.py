"""How a simulated visitor reacts to what the service shows, from the synthetic store's hidden
truth (ml/sources/synthetic: tastes over subcategories, price sensitivity, item appeal and price).

For each item of an answer, in the order shown (a homepage's carousels one after the other):

    examined  = POSITION_DECAY ** position
    attracted = sigmoid(BASE + TASTE_WEIGHT * log(taste[subcategory] * n_subcategories)
                        + appeal - price_sensitivity * price_z)
    P(click) = examined * attracted;  P(cart | click) = CART;  P(purchase | cart) = BUY

and, whatever was shown, an ORGANIC chance of buying one item of the visitor's favourite
subcategory elsewhere in the shop (the same in every arm: it dilutes every lift, as real traffic
does). Clicks, carts and purchases of shown items carry the answer's request_id.

Because these are probabilities, a visitor's expected outcomes under an answer are exact
(`SimulatedShoppers.expected`): the true effect of personalization over control is known, and so
is the truth the experiment's statistics must find.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

POSITION_DECAY = 0.85
BASE = -5.5
TASTE_WEIGHT = 0.6
CART = 0.35
BUY = 0.5
ORGANIC = 0.025
TASTE_FLOOR = 1e-3  # a subcategory the visitor never looks at still gets the odd click


@dataclass(frozen=True)
class Expected:
    conversion: float  # P(at least one purchase)
    revenue: float  # expected revenue
    clicks: float  # expected clicks


@dataclass(frozen=True)
class SimulatedShoppers:
    """The truth the simulator draws from, as arrays indexed by customer and by item."""

    user_ids: np.ndarray  # the customers of the store
    taste: np.ndarray  # customers x subcategories, each row sums to 1
    price_sensitivity: np.ndarray
    item_ids: np.ndarray
    item_index: dict
    item_sub: np.ndarray  # the item's subcategory (a column of `taste`)
    appeal: np.ndarray
    price_z: np.ndarray
    price: np.ndarray

    @classmethod
    def from_truth(cls, user_tastes: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame,
                   products: pd.DataFrame) -> SimulatedShoppers:
        """From the warehouse's truth.user_tastes, truth.users, truth.items and raw.products."""
        subs = sorted(user_tastes["category_path"].astype(str).unique())
        sub_index = {s: i for i, s in enumerate(subs)}
        taste = user_tastes.pivot(index="user_id", columns="category_path",
                                  values="affinity").reindex(columns=subs).fillna(0.0)
        sensitivity = users.set_index("user_id")["price_sensitivity"].reindex(taste.index)
        prices = products.set_index("item_id")["price"]
        item_ids = items["item_id"].astype(str).to_numpy()
        return cls(
            user_ids=taste.index.astype(str).to_numpy(), taste=taste.to_numpy(np.float64),
            price_sensitivity=sensitivity.fillna(0.5).to_numpy(np.float64),
            item_ids=item_ids, item_index={item: i for i, item in enumerate(item_ids)},
            item_sub=items["category_path"].astype(str).map(sub_index).to_numpy(np.int64),
            appeal=items["appeal"].to_numpy(np.float64),
            price_z=items["price_z"].to_numpy(np.float64),
            price=prices.reindex(item_ids).fillna(0.0).to_numpy(np.float64))

    @property
    def subcategories(self) -> int:
        return self.taste.shape[1]

    def items_of(self, ids: list[str]) -> np.ndarray:
        return np.array([self.item_index.get(i, -1) for i in ids], dtype=np.int64)

    def click_probabilities(self, visitor: int, items: np.ndarray) -> np.ndarray:
        """P(click) of each shown item (index into the truth's items; -1: unknown, never)."""
        known = items >= 0
        safe = np.where(known, items, 0)
        fit = np.maximum(self.taste[visitor, self.item_sub[safe]], TASTE_FLOOR) * self.subcategories
        score = (BASE + TASTE_WEIGHT * np.log(fit) + self.appeal[safe]
                 - self.price_sensitivity[visitor] * self.price_z[safe])
        attracted = 1.0 / (1.0 + np.exp(-score))
        examined = POSITION_DECAY ** np.arange(len(items))
        return np.where(known, examined * attracted, 0.0)

    def organic_item(self, visitor: int, rng: np.random.Generator) -> int:
        """What the visitor buys outside the recommendations: an item of their favourite
        subcategory, by appeal."""
        favourite = int(np.argmax(self.taste[visitor]))
        pool = np.flatnonzero(self.item_sub == favourite)
        weights = np.exp(self.appeal[pool])
        return int(rng.choice(pool, p=weights / weights.sum()))

    def organic_value(self, visitor: int) -> float:
        favourite = int(np.argmax(self.taste[visitor]))
        pool = np.flatnonzero(self.item_sub == favourite)
        weights = np.exp(self.appeal[pool])
        return float((self.price[pool] * weights).sum() / weights.sum())

    def expected(self, visitor: int, items: np.ndarray) -> Expected:
        click = self.click_probabilities(visitor, items)
        buy = click * CART * BUY
        safe = np.where(items >= 0, items, 0)
        no_purchase = (1 - ORGANIC) * math.prod((1 - buy).tolist())
        revenue = float((buy * self.price[safe]).sum()) + ORGANIC * self.organic_value(visitor)
        return Expected(1 - no_purchase, revenue, float(click.sum()))

    def draw(self, visitor: int, items: np.ndarray, rng: np.random.Generator) -> dict:
        """One visit's outcomes: {"clicked", "carted", "bought"} (positions in `items`) and
        "organic" (an item index, or None)."""
        click = rng.random(len(items)) < self.click_probabilities(visitor, items)
        cart = click & (rng.random(len(items)) < CART)
        bought = cart & (rng.random(len(items)) < BUY)
        organic = self.organic_item(visitor, rng) if rng.random() < ORGANIC else None
        return {"clicked": np.flatnonzero(click), "carted": np.flatnonzero(cart),
                "bought": np.flatnonzero(bought), "organic": organic}

    def intent_items(self, visitor: int, rng: np.random.Generator, n: int) -> np.ndarray:
        """Items a new visitor with this customer's tastes browses first: a subcategory drawn
        from the tastes, its items by appeal."""
        sub = int(rng.choice(self.subcategories, p=self.taste[visitor]))
        pool = np.flatnonzero(self.item_sub == sub)
        weights = np.exp(self.appeal[pool])
        return rng.choice(pool, size=min(n, len(pool)), replace=False, p=weights / weights.sum())
