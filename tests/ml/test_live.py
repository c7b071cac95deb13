"""Parity of the live rows: what serving composes from a bundle plus a visitor's live events equals
what the batch pipeline computes with the same events in the warehouse (dbt's point-in-time
features, the sequence profile, the candidates and every feature of the re-ranker)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.candidates import AlsParams, CandidateParams
from ml.data import Catalog, EventLog
from ml.evaluation.protocols import serve_split
from ml.neighbors import recent_profile
from ml.online.live import LiveRows, UserTables, events_after
from ml.online.profile import Profile
from ml.online.profile_rules import rules_for
from ml.online.scorer import OnlineScorer
from ml.point_in_time import USER_STATS
from ml.ranking.features import FEATURES, pair_features
from ml.ranking.hybrid import FittedContender
from ml.ranking.training import RankerParams, TrainingParams, train
from ml.sources.contract import check_live_event, live_time_text
from tests.builders import (
    event_weights,
    feature_store,
    interactions,
    products,
    small_store,
    split_features,
)

HALF_LIFE_DAYS = 30.0  # the builders' default, and a card's without a data window


@pytest.fixture(scope="module")
def world():
    """A model trained at cutoff T, live events after T for two known customers and a new one,
    and dbt's features at T' (the last live event + 1 s) with those events in the warehouse."""
    store = small_store()
    catalog = Catalog.from_products(products(store.products))
    log = EventLog.from_interactions(interactions(store.events), catalog)
    cutoff = float(log.time.max()) + 1.0
    split = serve_split(log, cutoff)
    params = TrainingParams(als=AlsParams(factors=8, iterations=3),
                            ranker=RankerParams(rounds=10), candidates=CandidateParams())
    model = train(log, catalog, split, params, split_features(log, catalog, split))

    index = model.index
    counts = np.diff(index.purchase_counts.indptr)
    buyer = index.user_ids[int(np.argmax(counts))]  # bought the most: repeats, prices
    browser = index.user_ids[int(np.flatnonzero(np.diff(index.history.indptr) > 0)[-1])]
    items = catalog.item_ids
    start = datetime(1970, 1, 1) + timedelta(seconds=cutoff + 3 * 86_400)
    last = start + timedelta(days=2)  # every visitor's last event: one T' for all
    bought = index.purchase_counts[index.user_index[buyer]].indices
    plan = {
        buyer: [("view", items[5], 0), ("add_to_cart", items[5], 0),
                ("purchase", items[5], 60, 2, 7.5), ("purchase", items[int(bought[0])], 60, 1, 3.0),
                ("remove_from_cart", items[9], 3_600), ("view", items[-1], None)],
        browser: [("view", items[3], 0), ("view", items[4], 0), ("click", items[40], 10),
                  ("purchase", items[3], 500, None, None), ("view", items[3], None)],
        "new-customer": [("view", items[7], 0), ("add_to_cart", items[7], 30),
                         ("purchase", items[7], 90, 1, 12.0), ("view", items[8], None)],
    }
    events, n = [], 0
    for user, steps in plan.items():
        for kind, item, offset, *numbers in steps:
            at = last if offset is None else start + timedelta(seconds=offset)
            quantity, price = (numbers + [None, None])[:2]
            events.append({"event_id": f"live-{n}", "user_id": user, "item_id": str(item),
                           "event_type": kind, "occurred_at": live_time_text(at),
                           "session_id": f"s-{user}", "quantity": quantity, "price": price})
            n += 1
    now = last + timedelta(days=1)
    events = [check_live_event(e, now)[0] for e in events]
    assert all(e is not None for e in events)

    # the warehouse: the store's events and the live ones
    columns = ["event_id", "user_id", "item_id", "event_type", "occurred_at", "session_id",
               "quantity", "price"]
    live_frame = pd.DataFrame(
        [{**e, "occurred_at": pd.Timestamp(e["occurred_at"]).tz_localize(None)} for e in events]
    )[columns]
    both = pd.concat([store.events, live_frame.astype({"quantity": "Int64", "price": "float64"})],
                     ignore_index=True)
    log_after = EventLog.from_interactions(interactions(both), catalog)
    later = float((pd.Timestamp(last) - pd.Timestamp(0)).total_seconds()) + 1.0
    split_after = serve_split(log_after, later)
    batch = feature_store(log_after, catalog, [split_after], HALF_LIFE_DAYS).at(
        split_after, log_after, catalog)
    return model, log_after, later, batch, events, plan


def _profile(rules, user: str, events: list[dict]) -> Profile:
    profile = Profile(f"user:{user}")
    for event in events:
        if event["user_id"] == user:
            profile = rules.apply(profile, event)
    return profile


def _live(model, user: str, events: list[dict]):
    index = model.index
    categories = dict(zip(index.catalog.item_ids.tolist(), index.catalog.category.tolist(),
                          strict=True))
    rules = rules_for({}, categories, event_weights())
    composer = LiveRows(index, AlsParams(factors=8), rules.half_life_s / 86_400)
    item_index = {item: i for i, item in enumerate(index.catalog.item_ids.tolist())}
    live = events_after(_profile(rules, user, events).recent, composer.cutoff, item_index,
                        rules.weights)
    at = index.user_index.get(user, -1)
    base = UserTables.of_index(index).rows(at) if at >= 0 else composer.empty()
    return composer, live, composer.compose(base, live)


@pytest.mark.parametrize("who", [0, 1, 2], ids=["buyer", "browser", "new_customer"])
def test_live_rows_equal_the_batch_features_with_the_events_in_the_warehouse(world, who):
    model, log_after, later, batch, events, plan = world
    user = list(plan)[who]
    composer, live, rows = _live(model, user, events)
    assert composer.now(live) == later
    u = log_after.user_ids.tolist().index(user)

    def same(row, matrix, name):
        expected = matrix[u]
        np.testing.assert_array_equal(row[0], expected.indices, err_msg=name)
        np.testing.assert_allclose(row[1], expected.data, rtol=1e-5, err_msg=name)

    same(rows.history, batch.history, "history")
    same(rows.purchases, batch.purchases, "purchases")
    same(rows.purchase_counts, batch.purchase_counts, "purchase_counts")
    same(rows.last_seen, batch.last_seen_days, "last_seen_days")
    window = model.index.params.sequence_window
    same(rows.recent, recent_profile(log_after.before(later), model.index.catalog.size, window),
         "recent")
    np.testing.assert_allclose(rows.category_share, batch.user_category_share[u], rtol=1e-5)
    np.testing.assert_allclose(rows.category_days, batch.user_category_days[u], rtol=1e-5)
    expected = batch.user_stats.iloc[u][list(USER_STATS)].to_numpy(np.float32)
    np.testing.assert_allclose(rows.stats, expected, rtol=1e-5, equal_nan=True)
    assert rows.segment == int(batch.user_category_share[u].argmax())


@pytest.mark.parametrize("who", [0, 2], ids=["buyer", "new_customer"])
def test_serving_candidates_and_features_equal_the_batch_code_on_the_batch_features(world, who):
    """The compiled pass over the live rows proposes what `CandidateIndex.candidates` proposes
    from dbt's features at T', with every feature of `pair_features` (the ALS factor is the
    live one on both sides: a retrained model would have its own)."""
    model, log_after, later, batch, events, plan = world
    user = list(plan)[who]
    _, _, rows = _live(model, user, events)
    u = log_after.user_ids.tolist().index(user)
    recent = recent_profile(log_after.before(later), model.index.catalog.size,
                            model.index.params.sequence_window)
    one = [u]
    index_after = replace(
        model.index, user_ids=np.array([user]), history=batch.history[one],
        purchases=batch.purchases[one], purchase_counts=batch.purchase_counts[one],
        last_seen_days=batch.last_seen_days[one], recent=recent[one],
        user_factors=rows.factor[None, :], user_segment=batch.user_category_share[one].argmax(1),
        user_stats=batch.user_stats.iloc[one].reset_index(drop=True),
        user_category_share=batch.user_category_share[one],
        user_category_days=batch.user_category_days[one])
    pairs = index_after.candidates(np.array([0]))
    expected = pair_features(index_after, pairs)

    scorer = OnlineScorer(model)
    at = model.index.user_index.get(user, -1)
    candidates, features = scorer.prepare([at], live=[rows])
    np.testing.assert_array_equal(candidates.items, pairs["item"].to_numpy())
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6, equal_nan=True,
                               err_msg=str(FEATURES))


def test_a_model_recommender_ranks_a_visitor_by_the_live_rows(world):
    """Just-seen items feed the neighbour sources: a new customer's candidates hold items similar
    to what they viewed, and the booster ranks them (a model without live rows cannot)."""
    model, _, _, _, events, plan = world
    user = "new-customer"
    _, _, rows = _live(model, user, events)
    scorer = OnlineScorer(FittedContender(model.index, model.booster))
    ranked = scorer.rank_many([-1], live=[rows])[0]
    assert len(ranked.items) > 0 and np.all(np.diff(ranked.scores) <= 0)
    viewed = {model.index.catalog.item_ids.tolist().index(plan[user][0][1])}
    content = model.index.content_neighbors[list(viewed)].indices
    assert set(content) & set(ranked.items.tolist())
    with pytest.raises(ValueError, match="needs live rows"):
        scorer.prepare([-1])
