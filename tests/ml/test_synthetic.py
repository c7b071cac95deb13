"""The synthetic store: contract shape, determinism, referential integrity, a plausible funnel, and
behaviour that follows the hidden truth (so a recommender has real signal to learn)."""

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from ml.schema import (
    CATEGORY_SEPARATOR,
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    PRODUCT_COLUMNS,
)
from ml.synthetic import CATALOG, LIFECYCLES, SyntheticParams, generate_store

TINY = SyntheticParams(seed=3, n_users=150, n_items=80, days=30)
N_SUBCATEGORIES = sum(len(subs) for subs in CATALOG.values())


@pytest.fixture(scope="module")
def store():
    return generate_store(SyntheticParams.preset("small"))


@pytest.fixture(scope="module")
def events(store):
    return store.events


def by_type(events, event_type):
    return events[events["event_type"] == event_type]


def test_frames_match_the_contract_exactly(store):
    for frame, columns in (
        (store.events, EVENT_COLUMNS),
        (store.products, PRODUCT_COLUMNS),
        (store.customers, CUSTOMER_COLUMNS),
    ):
        assert list(frame.columns) == list(columns)
        assert {c: str(t) for c, t in frame.dtypes.items()} == columns
        assert frame.index.equals(pd.RangeIndex(len(frame)))


def test_passes_contract_validation_without_quarantine(store):
    from ml.sources.contract import RawSource, validate_source

    validated = validate_source(
        RawSource("synthetic", store.events, store.products, store.customers),
        now=datetime(2026, 11, 1),
    )
    assert validated.quarantine_counts() == {"events": {}, "products": {}, "customers": {}}
    assert validated.loaded_counts() == {
        "events": len(store.events),
        "products": 500,
        "customers": 2000,
    }


def test_small_preset_size(store):
    assert SyntheticParams.preset("small") == SyntheticParams()
    assert 50_000 <= len(store.events) <= 100_000
    assert len(store.products) == 500
    assert len(store.customers) == 2000


def test_presets():
    big = SyntheticParams.preset("1m")
    assert (big.n_users, big.n_items, big.days) == (30_000, 5_000, 180)
    with pytest.raises(ValueError, match="unknown preset"):
        SyntheticParams.preset("huge")
    with pytest.raises(ValueError, match="n_items"):
        generate_store(SyntheticParams(n_items=N_SUBCATEGORIES - 1))


def test_deterministic_by_seed():
    a, b = generate_store(TINY), generate_store(TINY)
    for name in ("events", "products", "customers"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth.keys() == b.truth.keys()
    for name in a.truth:
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    c = generate_store(SyntheticParams(seed=4, n_users=150, n_items=80, days=30))
    assert not c.products["price"].equals(a.products["price"])
    assert (
        not c.events["item_id"]
        .head(200)
        .reset_index(drop=True)
        .equals(a.events["item_id"].head(200).reset_index(drop=True))
    )


def test_ids_are_unique_and_pseudonymous(store, events):
    assert events["event_id"].is_unique
    assert events["event_id"].str.fullmatch(r"e\d{8}").all()
    assert events["event_id"].iloc[0] == "e00000001"
    assert store.products["item_id"].is_unique
    assert store.products["item_id"].str.fullmatch(r"i\d{5}").all()
    assert store.customers["user_id"].is_unique
    assert store.customers["user_id"].str.fullmatch(r"u\d{6}").all()
    sessions = events["session_id"].dropna()
    assert sessions.str.fullmatch(r"s\d{7}").all()
    assert events["order_id"].dropna().str.fullmatch(r"o\d{7}").all()
    # event ids follow time
    assert events["occurred_at"].is_monotonic_increasing


def test_every_event_item_exists_and_was_created_before(store, events):
    joined = events.merge(
        store.products[["item_id", "created_at"]], on="item_id", how="left", validate="many_to_one"
    )
    assert joined["created_at"].notna().all()
    assert (joined["occurred_at"] >= joined["created_at"]).all()


def test_every_event_user_is_a_customer_seen_before(store, events):
    joined = events.merge(
        store.customers[["user_id", "first_seen_at"]],
        on="user_id",
        how="left",
        validate="many_to_one",
    )
    assert joined["first_seen_at"].notna().all()
    assert (joined["occurred_at"] >= joined["first_seen_at"]).all()
    # and every customer did visit
    assert set(store.customers["user_id"]) == set(events["user_id"])


def test_timestamps_stay_inside_the_window(events):
    assert events["occurred_at"].min() >= pd.Timestamp("2026-07-04")  # 120 days ending 2026-10-31
    assert events["occurred_at"].max() <= pd.Timestamp("2026-10-31 23:59:59")
    assert events["occurred_at"].max() >= pd.Timestamp("2026-10-31")


def test_sessions_are_short_and_ordered(events):
    in_session = events.dropna(subset=["session_id"])
    span = in_session.groupby("session_id")["occurred_at"].agg(["min", "max"])
    assert ((span["max"] - span["min"]) < pd.Timedelta(hours=6)).all()
    assert (span["max"] - span["min"]).median() < pd.Timedelta(minutes=15)
    # one user per session; within a session, events come in order (views strictly later)
    assert (in_session.groupby("session_id")["user_id"].nunique() == 1).all()
    diffs = (
        in_session.sort_values(["session_id", "event_id"])
        .groupby("session_id")["occurred_at"]
        .diff()
    )
    assert (diffs.dropna() > pd.Timedelta(0)).all()


def test_funnel_rates_and_cart_abandonment(events):
    counts = events["event_type"].value_counts()
    assert set(counts.index) <= set(EVENT_TYPES)
    assert counts["purchase"] < counts["add_to_cart"] < counts["view"]
    assert 0.05 < counts["add_to_cart"] / counts["view"] < 0.25
    carts = by_type(events, "add_to_cart")[["session_id", "item_id"]]
    bought = by_type(events, "purchase")[["session_id", "item_id"]].assign(bought=True)
    joined = carts.merge(bought, how="left", on=["session_id", "item_id"])
    abandoned = joined["bought"].isna().mean()
    assert 0.55 <= abandoned <= 0.75
    assert counts["remove_from_cart"] > 0
    # every purchase was carted first in the same session
    assert len(bought.merge(carts, on=["session_id", "item_id"])) == len(bought)


def test_event_fields_by_type(store, events):
    views = by_type(events, "view")
    assert views["dwell_seconds"].notna().all() and (views["dwell_seconds"] > 0).all()
    assert views["quantity"].isna().all()
    purchases = by_type(events, "purchase")
    assert purchases["order_id"].notna().all()
    assert purchases["quantity"].isin([1, 2, 3]).all()
    assert (purchases["quantity"] == 1).mean() > 0.6
    assert by_type(events, "view")["order_id"].isna().all()
    assert events["placement"].isna().all() and events["request_id"].isna().all()
    # the price paid is the catalog price
    price = purchases.merge(
        store.products[["item_id", "price"]], on="item_id", suffixes=("", "_catalog")
    )
    assert np.allclose(price["price"], price["price_catalog"])
    assert (events["price"] > 0).all()


def test_orders_group_purchases_of_one_session(events):
    purchases = by_type(events, "purchase")
    per_order = purchases.groupby("order_id").agg(
        sessions=("session_id", "nunique"), users=("user_id", "nunique")
    )
    assert (per_order["sessions"] == 1).all() and (per_order["users"] == 1).all()
    assert (purchases.groupby("session_id")["order_id"].nunique() == 1).all()
    assert (purchases.groupby("order_id").size() > 1).any()  # multi-line baskets exist


def test_returns_are_rare_and_follow_a_purchase(events):
    returns = by_type(events, "return")
    purchases = by_type(events, "purchase")
    assert 0 < len(returns) < 0.05 * len(purchases)
    joined = returns.merge(purchases, on=["order_id", "item_id"], suffixes=("", "_p"))
    assert len(joined) == len(returns)
    assert (joined["occurred_at"] > joined["occurred_at_p"]).all()


def test_catalog_is_realistic(store):
    products = store.products
    paths = products["category_path"].str.split(CATEGORY_SEPARATOR, regex=False)
    assert (paths.str.len() == 2).all()
    assert paths.str[0].nunique() == 6
    assert products["category_path"].nunique() == N_SUBCATEGORIES
    assert 25 <= products["brand"].nunique() <= 30
    assert (products["price"] > 0).all()
    assert (
        products["title"].str.split(" ").str[0] == products["brand"].str.split(" ").str[0]
    ).all()
    assert products["description"].str.len().between(30, 200).all()
    assert 0.9 <= products["in_stock"].mean() < 1.0
    assert products["title"].notna().all() and products["created_at"].notna().all()
    # brands belong to one top category; price levels differ by subcategory
    assert (products.assign(top=paths.str[0]).groupby("brand")["top"].nunique() == 1).all()
    coffee = products[products["category_path"] == "grocery > coffee"]
    assert (
        coffee["price"].median()
        < products[products["category_path"] == "fashion > outerwear"]["price"].median()
    )


def test_items_arrive_over_time(store, events):
    window_start = pd.Timestamp("2026-07-04")
    new = store.products["created_at"] >= window_start
    assert 0.2 <= new.mean() <= 0.4
    new_ids = set(store.products.loc[new, "item_id"])
    assert by_type(events, "view")["item_id"].isin(new_ids).sum() > 0


def test_customers_demographics_and_consent(store, events):
    customers = store.customers
    opted_out = ~customers["consent_personalization"]
    assert 0.05 <= opted_out.mean() <= 0.15
    assert 0.5 <= customers["consent_marketing"].mean() <= 0.7
    assert (customers["consent_personalization_at"] >= customers["first_seen_at"]).all()
    assert (customers["consent_marketing_at"] >= customers["first_seen_at"]).all()
    assert (customers["consent_personalization_at"] <= pd.Timestamp("2026-10-31 23:59:59")).all()
    assert set(customers["gender"].dropna()) == {"f", "m", "x"}
    assert 0 < customers["gender"].isna().mean() < 0.2
    assert customers["country"].nunique() >= 5
    assert set(customers["age_band"]) <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    # opted-out users still exist in the events (downstream decides what to do with them)
    assert events["user_id"].isin(customers.loc[opted_out, "user_id"]).any()


def test_truth_tables(store):
    truth = store.truth
    assert {"user_tastes", "users", "items", "staples", "sessions"} <= set(truth)
    tastes = truth["user_tastes"]
    assert list(tastes.columns) == ["user_id", "category_path", "affinity"]
    sums = tastes.groupby("user_id")["affinity"].sum()
    assert len(sums) == 2000 and np.allclose(sums, 1.0)
    assert (tastes["affinity"] >= 0).all()
    # concentrated: the top 3 subcategories hold most of each user's taste
    top3 = tastes.sort_values("affinity", ascending=False).groupby("user_id").head(3)
    assert top3.groupby("user_id")["affinity"].sum().median() > 0.75
    users = truth["users"]
    assert set(users["lifecycle"]) == set(LIFECYCLES)
    assert users["price_sensitivity"].between(0, 1).all() and (users["sessions_per_week"] > 0).all()
    assert set(truth["items"]["item_id"]) == set(store.products["item_id"])
    assert set(truth["sessions"]["session_id"]) == set(store.events["session_id"].dropna())
    # the truth is never joined into the frames
    assert "affinity" not in store.events.columns and "appeal" not in store.products.columns


def test_known_answer_users_view_their_top_taste(store, events):
    tastes = store.truth["user_tastes"]
    top = tastes.loc[tastes.groupby("user_id")["affinity"].idxmax(), ["user_id", "category_path"]]
    views = by_type(events, "view").merge(
        store.products[["item_id", "category_path"]], on="item_id"
    )
    share = (
        views.merge(top, on="user_id", suffixes=("", "_top"))
        .assign(hit=lambda d: d["category_path"] == d["category_path_top"])
        .groupby("user_id")["hit"]
        .mean()
    )
    chance = 1 / N_SUBCATEGORIES
    assert share.mean() > 8 * chance  # about 0.5 against a chance of 0.045
    # and dwell is longer on the favourite subcategory
    dwell = views.merge(top, on="user_id", suffixes=("", "_top"))
    fav = dwell["category_path"] == dwell["category_path_top"]
    assert (
        dwell.loc[fav, "dwell_seconds"].median() > 1.3 * dwell.loc[~fav, "dwell_seconds"].median()
    )


def test_known_answer_bargain_hunters_buy_cheaper(store, events):
    purchases = by_type(events, "purchase").merge(
        store.truth["users"][["user_id", "lifecycle"]], on="user_id"
    )
    purchases = purchases.merge(store.truth["items"][["item_id", "price_z"]], on="item_id")
    mean_z = purchases.groupby("lifecycle")["price_z"].mean()
    assert mean_z["bargain_hunter"] < mean_z["loyal"] - 0.3
    assert mean_z["bargain_hunter"] < 0


def test_known_answer_lifecycles(store, events):
    users = store.truth["users"][["user_id", "lifecycle"]]
    per_user = (
        events.groupby("user_id")
        .agg(
            first=("occurred_at", "min"),
            last=("occurred_at", "max"),
            sessions=("session_id", "nunique"),
        )
        .reset_index()
    )
    per_user = per_user.merge(users, on="user_id")
    med = per_user.drop(columns="user_id").groupby("lifecycle").median()
    assert med.loc["loyal", "sessions"] > 3 * med.loc["casual", "sessions"]
    assert med.loc["churner", "last"] < pd.Timestamp("2026-09-15")  # churners stop early
    assert med.loc["new", "first"] > pd.Timestamp("2026-09-01")  # new users arrive late
    new_ids = users.loc[users["lifecycle"] == "new", "user_id"]
    first_seen = store.customers.set_index("user_id").loc[new_ids, "first_seen_at"]
    assert (first_seen >= pd.Timestamp("2026-07-04")).all()


def test_consumables_are_rebought(store, events):
    purchases = by_type(events, "purchase").merge(
        store.products[["item_id", "category_path"]], on="item_id"
    )
    repeat = purchases.groupby(["user_id", "item_id", "category_path"]).size().reset_index(name="n")
    repeat = repeat[repeat["n"] >= 2]
    consumables = {"grocery > coffee", "grocery > tea", "pets > pet food", "beauty > skincare"}
    assert len(repeat) > 50
    # nobody buys the same durable item twice; consumables are rebought
    assert repeat["category_path"].isin(consumables).all()
    staples = store.truth["staples"]
    assert len(staples) > 0 and staples["cycle_days"].between(10, 90).all()


def test_weekends_are_busier(events):
    sessions = events.dropna(subset=["session_id"]).drop_duplicates("session_id")
    per_day = sessions.groupby(sessions["occurred_at"].dt.normalize()).size()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    weekday = per_day[per_day.index.dayofweek < 5].mean()
    assert weekend > 1.15 * weekday


def test_popularity_is_long_tailed(events):
    views = by_type(events, "view")["item_id"].value_counts()
    top_decile = views.head(len(views) // 10).sum() / views.sum()
    assert 0.3 < top_decile < 0.8
