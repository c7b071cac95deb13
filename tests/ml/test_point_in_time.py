"""Point-in-time features, built by the real dbt models (transforms/models/features) and read
back as arrays: known answers on a hand-written log, nothing at or after a cutoff, and features of
other cutoffs refused."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ml.evaluation.protocols import serve_split
from ml.point_in_time import cutoff_table
from tests.builders import event_weights, feature_store, tiny_shop

DAY = 86_400.0
START = pd.Timestamp("2026-01-01").timestamp()
ROWS = [  # (user, item, event, day, order)
    ("u1", 0, "view", 0, None),
    ("u1", 1, "purchase", 1, "o1"),
    ("u1", 1, "purchase", 5, "o2"),
    ("u1", 2, "purchase", 10, "o3"),  # exactly at the cutoff: not visible
    ("u2", 0, "purchase", 2, "o4"),
]


@pytest.fixture(scope="module")
def shop():
    catalog, log = tiny_shop(ROWS, n_items=3)
    split = serve_split(log, START + 10 * DAY)
    return catalog, log, split, feature_store(log, catalog, [split], half_life_days=30.0)


def test_features_hold_the_known_answers_and_nothing_at_or_after_the_cutoff(shop):
    catalog, log, split, store = shop
    features = store.at(split, log, catalog)
    u1, u2 = (int(np.flatnonzero(log.user_ids == u)[0]) for u in ("u1", "u2"))
    purchase = event_weights()["purchase"]

    def decayed(*ages):
        return sum(2 ** (-age / 30.0) for age in ages)

    users = features.user_stats
    assert users.loc[u1, "u_events"] == 3 and users.loc[u1, "u_purchases"] == 2
    assert users.loc[u1, "u_days_since_last"] == pytest.approx(5.0)
    assert users.loc[u1, "u_monetary"] == pytest.approx(2.0)
    assert users.loc[u1, "u_repeat_item_share"] == 1.0  # i1 twice; i2 is not visible yet
    assert users.loc[u2, "u_repeat_item_share"] == 0.0
    assert features.purchase_counts[u1, 1] == 2 and features.purchase_counts[u1, 2] == 0
    assert features.history[u1, 1] == pytest.approx(purchase * decayed(9, 5), rel=1e-5)
    assert features.last_seen_days[u1, 1] == pytest.approx(1 + 5.0)  # 1 + days since
    items = features.item_stats
    assert items.loc[2, "i_purchases"] == 0 and items.loc[2, "i_popularity"] == 0.0
    assert items.loc[0, "i_views"] == 1 and items.loc[0, "i_conversion"] == 1.0
    assert items.loc[1, "i_repeat_buyer_share"] == 1.0
    assert features.popularity[1] == pytest.approx(purchase * decayed(9, 5), rel=1e-5)
    assert items.loc[1, "i_popularity"] == pytest.approx(np.log1p(features.popularity[1]))
    assert features.user_category_share[u1].tolist() == [1.0]  # one category, all of it


def test_features_of_other_cutoffs_are_refused(shop):
    catalog, log, _, store = shop
    later = serve_split(log, START + 11 * DAY)  # the same name, another cutoff
    with pytest.raises(ValueError, match="other cutoffs than this split's"):
        store.at(later, log, catalog)


def test_a_split_whose_events_are_not_those_before_its_cutoffs_is_refused(shop):
    _, log, split, _ = shop
    everything = replace(split, visible=np.ones(len(log), dtype=bool))
    with pytest.raises(ValueError, match="not those before each user's cutoff"):
        cutoff_table(log, [everything])
    with pytest.raises(ValueError, match="share a cutoff id"):
        cutoff_table(log, [split, split])
