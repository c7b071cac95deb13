"""Every suite passes on good data and fails, naming the expectation, on broken data."""

from datetime import datetime

import pandas as pd
import pytest

from expectations.suites import SUITES, SuiteParams
from expectations.validate import run_suite
from ml.sources.contract import validate_source
from ml.sources.rees46 import load_rees46

AS_OF = datetime(2026, 10, 31, 23, 0)
PARAMS = SuiteParams(as_of=AS_OF, min_events=10, min_users=3, min_items=3)


@pytest.fixture(scope="module")
def good_raw(rees46_file):
    return validate_source(load_rees46(rees46_file), now=AS_OF)


def mart_frames() -> dict[str, pd.DataFrame]:
    users = [f"u{i}" for i in range(6)]
    return {
        "ml_user_item_interactions": pd.DataFrame(
            {
                "user_id": users * 2,
                "item_id": [f"i{i % 4}" for i in range(12)],
                "interaction_score": [1.0, 0.5, 2.0, 0.0, 3.5, 1.2] * 2,
            }
        ).drop_duplicates(["user_id", "item_id"]),
        "ml_user_features": pd.DataFrame(
            {
                "user_id": users,
                "recency_days": [0.5, 3, 10, 40, 95, 1],
                "frequency": [1, 0, 5, 2, 1, 8],
                "monetary": [10.0, 0, 99.5, 20, 5, 300],
                "recency_score": [5, 4, 3, 2, 1, 5],
                "frequency_score": [2, 1, 4, 3, 2, 5],
                "monetary_score": [2, 1, 4, 3, 1, 5],
                "conversion_rate": [0.5, 0, 1, 0.2, 0.1, 0.9],
                "segment": ["new", "active", "loyal", "at_risk", "churned", "loyal"],
                "top_category": ["home", "toys", None, "home", "garden", "toys"],
            }
        ),
        "ml_item_features": pd.DataFrame(
            {
                "item_id": ["i0", "i1", "i2", "i3"],
                "popularity_score": [10.0, 3, 0, 1],
                "conversion_rate": [0.1, 0.5, 0.0, 1.0],
                "price_band": ["budget", "mid", "premium", "mid"],
            }
        ),
    }


def test_raw_suites_pass_on_a_real_export(good_raw):
    params = SuiteParams(as_of=good_raw.as_of)
    for table in ("events", "products", "customers"):
        summary = run_suite(SUITES[f"raw_{table}"](params), getattr(good_raw, table))
        assert summary.success, summary.describe_failures()
        assert summary.evaluated == summary.successful > 3


@pytest.mark.parametrize(
    ("breakage", "failed_expectation"),
    [
        (lambda f: f.head(5), "expect_table_row_count_to_be_between"),
        (lambda f: f.assign(event_type="teleport"), "expect_column_values_to_be_in_set"),
        (lambda f: f.assign(price=-f["price"]), "expect_column_values_to_be_between"),
        (lambda f: f.assign(user_id=None), "expect_column_values_to_not_be_null"),
        (lambda f: pd.concat([f, f.head(3)]), "expect_column_values_to_be_unique"),
        (lambda f: f.drop(columns="request_id"), "expect_table_columns_to_match_set"),
        # Stale: the newest event is a month older than the load's reference time.
        (
            lambda f: f.assign(occurred_at=f["occurred_at"] - pd.Timedelta(days=30)),
            "expect_column_max_to_be_between",
        ),
    ],
)
def test_raw_events_suite_fails_on_broken_data(good_raw, breakage, failed_expectation):
    params = SuiteParams(as_of=good_raw.as_of)
    summary = run_suite(SUITES["raw_events"](params), breakage(good_raw.events.copy()))
    assert not summary.success
    assert failed_expectation in {f.expectation for f in summary.failures}


@pytest.mark.parametrize(
    "table", ["ml_user_item_interactions", "ml_user_features", "ml_item_features"]
)
def test_mart_suites_pass_on_good_features(table):
    summary = run_suite(SUITES[table](PARAMS), mart_frames()[table])
    assert summary.success, summary.describe_failures()


@pytest.mark.parametrize(
    ("table", "breakage", "column"),
    [
        (
            "ml_user_item_interactions",
            lambda f: f.assign(interaction_score=-1.0),
            "interaction_score",
        ),
        ("ml_user_item_interactions", lambda f: pd.concat([f, f.head(2)]), None),
        (
            "ml_user_features",
            lambda f: f.assign(conversion_rate=f["conversion_rate"] * 3),
            "conversion_rate",
        ),
        ("ml_user_features", lambda f: f.assign(segment="vip"), "segment"),
        ("ml_user_features", lambda f: f.assign(top_category=None), "top_category"),
        ("ml_user_features", lambda f: f.assign(recency_score=7), "recency_score"),
        (
            "ml_item_features",
            lambda f: f.assign(popularity_score=-f["popularity_score"] - 1),
            "popularity_score",
        ),
        ("ml_item_features", lambda f: f.assign(price_band="luxury"), "price_band"),
    ],
)
def test_mart_suites_fail_on_broken_features(table, breakage, column):
    summary = run_suite(SUITES[table](PARAMS), breakage(mart_frames()[table]))
    assert not summary.success
    assert column in {f.column for f in summary.failures}


def test_data_docs_are_written_for_governance(tmp_path):
    summary = run_suite(
        SUITES["ml_item_features"](PARAMS),
        mart_frames()["ml_item_features"],
        data_docs_dir=tmp_path,
    )
    assert summary.data_docs_index == str(tmp_path / "index.html")
    assert "ml_item_features" in (tmp_path / "index.html").read_text()
