"""The simulator's behaviour (ml/synthetic/responses.py) on the synthetic store's truth: the
outcomes it draws agree with the expectations it reports (so the true lift it states is the
one its visitors produce), taste matters, and position matters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.synthetic import SyntheticParams, generate_store
from ml.synthetic.responses import SimulatedShoppers


@pytest.fixture(scope="module")
def shoppers() -> SimulatedShoppers:
    store = generate_store(SyntheticParams(n_users=200, n_items=150, days=30))
    return SimulatedShoppers.from_truth(store.truth["user_tastes"], store.truth["users"],
                               store.truth["items"], store.products)


def test_drawn_outcomes_agree_with_the_expected_ones(shoppers):
    rng = np.random.default_rng(1)
    expected_conversion = expected_revenue = 0.0
    conversions = revenue = 0.0
    visits = 20_000
    for _ in range(visits):
        visitor = int(rng.integers(len(shoppers.user_ids)))
        items = rng.choice(len(shoppers.item_ids), size=20, replace=False)
        expected = shoppers.expected(visitor, items)
        expected_conversion += expected.conversion
        expected_revenue += expected.revenue
        drawn = shoppers.draw(visitor, items, rng)
        bought = shoppers.price[items[drawn["bought"]]].sum()
        organic = drawn["organic"]
        conversions += bool(len(drawn["bought"]) or organic is not None)
        # the organic item's price varies; its expectation is what `expected` counts
        revenue += bought + (shoppers.organic_value(visitor) if organic is not None else 0.0)
    p = expected_conversion / visits
    assert abs(conversions / visits - p) < 4 * np.sqrt(p * (1 - p) / visits)
    assert revenue / visits == pytest.approx(expected_revenue / visits, rel=0.1)


def test_taste_and_position_raise_the_click_probability(shoppers):
    visitor = 0
    taste = shoppers.taste[visitor]
    favourite, least = int(np.argmax(taste)), int(np.argmin(taste))
    liked = np.flatnonzero(shoppers.item_sub == favourite)[:1]
    unliked = np.flatnonzero(shoppers.item_sub == least)[:1]
    assert shoppers.click_probabilities(visitor, liked)[0] > 2 * \
        shoppers.click_probabilities(visitor, unliked)[0] or shoppers.appeal[unliked[0]] > \
        shoppers.appeal[liked[0]] + 1
    same = np.repeat(liked, 5)
    clicks = shoppers.click_probabilities(visitor, same)
    assert (np.diff(clicks) < 0).all()  # the same item, further down: fewer clicks
    assert shoppers.click_probabilities(visitor, np.array([-1]))[0] == 0.0
    assert isinstance(pd.Series(clicks).sum(), float)
