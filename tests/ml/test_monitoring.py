"""Drift monitoring (Evidently summaries) and the drift simulation that feeds the demo."""

import numpy as np
import pandas as pd
import pytest

from ml.evaluation.protocols import serve_split
from ml.monitoring import (
    FEATURE_TABLES,
    ColumnSpec,
    MonitoringParams,
    ReferenceSnapshot,
    build_reference,
    compare_frames,
    feature_drift,
    load_reference,
    prediction_sample,
    session_outcomes,
    target_drift,
)
from ml.ranking.training import train
from ml.schema import CATEGORY_SEPARATOR, CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS
from ml.sources.contract import RawSource, validate_source
from ml.synthetic.days import NEW_CATEGORY, DriftParams, simulate_days
from tests.builders import interactions
from tests.ml.test_training import FAST

PARAMS = MonitoringParams()
SPEC = ColumnSpec(id_column="user_id", numerical=("spend", "visits"), categorical=("segment",))


def shop_frame(n: int, seed: int, spend_shift: float = 0.0, loyal_share: float = 0.2):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [str(100_000 + i) for i in rng.permutation(n)],  # numeric-looking ids
            "title": [f"customer note {i}" for i in range(n)],
            "spend": rng.lognormal(3.0 + spend_shift, 0.5, n),
            "visits": rng.poisson(4, n),
            "segment": rng.choice(["loyal", "casual"], n, p=[loyal_share, 1 - loyal_share]),
        }
    )


def test_identical_distributions_do_not_drift():
    summary = compare_frames(shop_frame(2000, 1), shop_frame(2000, 2), SPEC, PARAMS).summary
    assert summary.drifted_columns == ()
    assert summary.drift_share == 0.0
    assert {c.column for c in summary.columns} == {"spend", "visits", "segment"}
    assert all(c.score < PARAMS.column_threshold for c in summary.columns)


def test_shifted_columns_drift_and_the_share_counts_them():
    reference = shop_frame(2000, 1)
    current = shop_frame(2000, 2, spend_shift=0.5, loyal_share=0.6)
    summary = compare_frames(reference, current, SPEC, PARAMS).summary
    assert set(summary.drifted_columns) == {"spend", "segment"}
    assert summary.drift_share == pytest.approx(2 / 3)
    methods = {c.column: c.method for c in summary.columns}
    assert methods == {
        "spend": "Wasserstein distance (normed)",
        "visits": "Wasserstein distance (normed)",
        "segment": "Jensen-Shannon distance",
    }


def test_ids_and_text_are_never_features_even_when_they_differ_completely():
    reference = shop_frame(1500, 1)
    current = shop_frame(1500, 2).assign(
        user_id=[str(900_000 + i) for i in range(1500)], title="completely different text"
    )
    result = compare_frames(reference, current, SPEC, PARAMS)
    compared = {c.column for c in result.summary.columns}
    assert "user_id" not in compared and "title" not in compared
    assert result.summary.drifted_columns == ()


def test_a_column_without_values_is_listed_but_not_counted():
    spec = ColumnSpec(id_column=None, numerical=("spend", "missing"), categorical=())
    reference = shop_frame(500, 1).assign(missing=np.nan)
    summary = compare_frames(reference, shop_frame(500, 2), spec, PARAMS).summary
    missing = next(c for c in summary.columns if c.column == "missing")
    assert missing.score is None and not missing.drifted
    assert summary.n_columns == 2 and summary.drift_share == 0.0


def test_feature_drift_compares_only_active_users_and_prefixes_columns_by_table():
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(600)],
            "recency_days": np.r_[np.full(300, 2), np.full(300, 60)],
            "engagement_score": np.r_[np.full(300, 5.0), np.full(300, 50.0)],
            "segment": "active",
        }
    )
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(50)], "price": np.arange(50.0)})
    reference = ReferenceSnapshot(
        as_of=pd.Timestamp("2026-10-31"),
        user_features=users,
        item_features=items,
        predictions=pd.DataFrame(),
        sessions=pd.DataFrame(),
    )
    # The inactive half changes completely: invisible, because only active users are compared.
    current = users.assign(engagement_score=np.r_[np.full(300, 5.0), np.full(300, 500.0)])
    result = feature_drift(reference, current, items, PARAMS)
    assert result.summary.rows["ml_user_features"] == {"reference": 300, "current": 300}
    assert "ml_user_features.engagement_score" in {c.column for c in result.summary.columns}
    assert result.summary.drifted_columns == ()
    assert not {"user_id", "item_id"} & set(FEATURE_TABLES["ml_user_features"].columns)


def test_session_outcomes_and_target_drift_on_a_known_case():
    t0 = pd.Timestamp("2026-10-25 10:00")

    def sessions(n: int, buyers: int, start: pd.Timestamp) -> pd.DataFrame:
        rows = []
        for s in range(n):
            at = start + pd.Timedelta(minutes=s)
            rows.append(("u1", f"s{start:%d}-{s}", "view", at))
            if s < buyers:
                rows.append(("u1", f"s{start:%d}-{s}", "add_to_cart", at))
                rows.append(("u1", f"s{start:%d}-{s}", "purchase", at))
        return pd.DataFrame(rows, columns=["user_id", "session_id", "event_type", "occurred_at"])

    reference_events = sessions(400, 40, t0)
    outcomes = session_outcomes(
        reference_events, t0 - pd.Timedelta(days=1), t0 + pd.Timedelta(days=1)
    )
    assert len(outcomes) == 400
    assert outcomes["has_purchase"].mean() == pytest.approx(0.10)
    assert outcomes["count_views"].sum() == 400
    reference = ReferenceSnapshot(
        as_of=t0 + pd.Timedelta(days=1),
        user_features=pd.DataFrame(),
        item_features=pd.DataFrame(),
        predictions=pd.DataFrame(),
        sessions=outcomes,
    )
    later = t0 + pd.Timedelta(days=10)
    same = target_drift(reference, sessions(400, 40, later), later + pd.Timedelta(days=1), PARAMS)
    assert same.summary.drifted_columns == ()
    shifted = target_drift(
        reference, sessions(400, 240, later), later + pd.Timedelta(days=1), PARAMS
    )
    assert set(shifted.summary.drifted_columns) == {"has_add_to_cart", "has_purchase"}
    assert shifted.summary.stats["conversion_rate"] == {"reference": 0.10, "current": 0.60}


@pytest.fixture(scope="module")
def model(log, catalog, windows, features):
    return train(log, catalog, serve_split(log, windows.as_of + 1), FAST, features)


def test_reference_round_trips_with_a_prediction_sample_of_active_users(
    model, store, windows, tmp_path
):
    users = model.index.user_ids[:80].astype(str)
    user_features = pd.DataFrame(
        {"user_id": users, "recency_days": np.r_[np.full(50, 1), np.full(30, 90)], "segment": "x"}
    )
    params = MonitoringParams(sample_users=20, k=5)
    sample = prediction_sample(model, user_features, params)
    assert sample["user_id"].nunique() == 20
    assert set(sample["user_id"]) <= set(users[:50])  # only active users are sampled
    assert sample.groupby("user_id")["rank"].max().eq(5).all()
    assert set(sample["category"]) <= set(model.index.catalog.category)

    as_of = pd.Timestamp(windows.as_of, unit="s")
    reference = build_reference(
        model,
        user_features,
        pd.DataFrame({"item_id": ["i1"], "price": [1.0]}),
        interactions(store.events),
        as_of,
        params,
    )
    reference.save(tmp_path / "reference")
    loaded = load_reference(tmp_path)
    assert loaded.as_of == as_of
    pd.testing.assert_frame_equal(loaded.predictions, reference.predictions)
    assert len(loaded.sessions) > 100 and loaded.sessions["started_at"].max() <= as_of
    assert load_reference(tmp_path / "nowhere") is None


# ---- the drift simulation --------------------------------------------------------------------


def simulate(store, **kwargs):
    as_of = store.events["occurred_at"].max()
    return simulate_days(
        store.events, store.products, store.customers, as_of, DriftParams(**kwargs)
    )


def test_simulation_is_deterministic_by_seed(store):
    first, again = simulate(store, seed=3, shift="taste"), simulate(store, seed=3, shift="taste")
    pd.testing.assert_frame_equal(first.events, again.events)
    other = simulate(store, seed=4, shift="taste")
    assert not first.events["item_id"].equals(other.events["item_id"])


@pytest.mark.parametrize("shift", ["none", "taste", "new-category"])
def test_simulated_days_keep_the_contract(store, shift):
    batch = simulate(store, days=5, seed=1, shift=shift)
    events = batch.events
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert dict(events.dtypes.astype(str)) == EVENT_COLUMNS
    assert events["event_id"].is_unique
    assert not set(events["event_id"]) & set(store.events["event_id"])
    assert not set(events["order_id"].dropna()) & set(store.events["order_id"].dropna())
    assert events["occurred_at"].min() >= batch.window_start
    assert events["occurred_at"].max() < batch.window_end
    assert batch.window_start > store.events["occurred_at"].max()
    catalog = set(store.products["item_id"]) | set(batch.products["item_id"])
    assert events["item_id"].isin(catalog).all()
    customers = batch.customers
    assert events["user_id"].isin(set(store.customers["user_id"]) | set(customers["user_id"])).all()
    assert len(customers) > 0 and not set(customers["user_id"]) & set(store.customers["user_id"])
    assert (customers["first_seen_at"] >= batch.window_start).all()
    checked = validate_source(
        RawSource("simulated", events, batch.products, customers),
        now=batch.window_end.to_pydatetime(),
    )
    assert len(checked.quarantine) == 0 and len(checked.events) == len(events)
    assert dict(customers.dtypes.astype(str)) == CUSTOMER_COLUMNS
    if len(batch.products):
        assert dict(batch.products.dtypes.astype(str)) == PRODUCT_COLUMNS
        assert (batch.products["created_at"] < batch.window_start).all()


def category_share(store, batch) -> pd.Series:
    products = pd.concat([store.products, batch.products])
    top = products.set_index("item_id")["category_path"].str.split(CATEGORY_SEPARATOR).str[0]
    return batch.events["item_id"].map(top).value_counts(normalize=True)


def test_shifts_move_interest_and_none_keeps_the_mix(store):
    last_weeks = store.events[
        store.events["occurred_at"] > store.events["occurred_at"].max() - pd.Timedelta(days=28)
    ]
    top = store.products.set_index("item_id")["category_path"].str.split(CATEGORY_SEPARATOR).str[0]
    before = last_weeks["item_id"].map(top).value_counts(normalize=True)
    target = before.idxmin()

    none = category_share(store, simulate(store, seed=2, shift="none"))
    assert (none - before).abs().max() < 0.05
    taste = category_share(store, simulate(store, seed=2, shift="taste"))
    assert taste[target] > before[target] + 0.3
    new_category = simulate(store, seed=2, shift="new-category")
    assert (new_category.products["category_path"].str.startswith(NEW_CATEGORY)).all()
    assert category_share(store, new_category)[NEW_CATEGORY] == pytest.approx(0.4, abs=0.1)


def test_simulation_refuses_an_unknown_shift():
    with pytest.raises(ValueError, match="shift"):
        DriftParams(shift="seasonal")
