"""Every suite passes on good data and fails, naming the expectation, on broken data."""

from datetime import datetime, timedelta

import pandas as pd
import pytest

from expectations.params import SuiteParams
from expectations.suites import SUITES, quarantine_breaches
from expectations.validate import run_suite
from ml.sources.contract import RawSource, validate_source
from ml.sources.files import load_files
from ml.sources.rees46 import load_rees46
from tests.ml.test_data_contract_docs import doc_text, smallest_file

AS_OF = datetime(2026, 10, 31, 23, 0)
PARAMS = SuiteParams(as_of=AS_OF, min_events=10, min_users=3, min_items=3)


@pytest.fixture(scope="module")
def good_raw(rees46_file):
    return validate_source(load_rees46(rees46_file), now=AS_OF)


def mart_frames() -> dict[str, pd.DataFrame]:
    users = [f"u{i}" for i in range(6)]
    return {
        "ml_pit_user_item_features": pd.DataFrame(
            {
                "cutoff_id": "serve",
                "user_id": users * 2,
                "item_id": [f"i{i % 4}" for i in range(12)],
                "ui_confidence": [1.0, 0.5, 2.0, 0.0, 3.5, 1.2] * 2,
                "ui_decayed_purchases": [0.5, 0.0, 1.0, 0.0, 0.0, 0.9] * 2,
                "ui_purchases": [1, 0, 2, 0, 0, 1] * 2,
                "ui_days_since_last": [0.5, 3.0, 10.0, 40.0, 95.0, 1.0] * 2,
            }
        ).drop_duplicates(["user_id", "item_id"]),
        "ml_pit_user_features": pd.DataFrame(
            {
                "cutoff_id": "serve",
                "user_id": users,
                "u_events": [3, 1, 9, 4, 2, 12],
                "u_purchases": [1, 0, 5, 2, 1, 8],
                "u_days_since_last": [0.5, 3, 10, 40, 95, 1],
                "u_monetary": [10.0, 0, 99.5, 20, 5, 300],
                "u_avg_price": [10.0, None, 19.9, 10, 5, 37.5],
                "u_repeat_item_share": [0.0, None, 0.5, 1.0, 0.0, 0.25],
            }
        ),
        "ml_pit_item_features": pd.DataFrame(
            {
                "cutoff_id": "serve",
                "item_id": ["i0", "i1", "i2", "i3"],
                "i_popularity": [10.0, 3, 0, 1],
                "i_trending": [4.0, 1, 0, 1],
                "i_purchases": [3, 1, 0, 2],
                "i_views": [30, 2, 0, 2],
                "i_conversion": [0.1, 0.5, None, 1.0],
                "i_repeat_buyer_share": [0.5, 0.0, None, 0.0],
                "i_price": [9.99, 20.0, 3.5, None],
                "i_age_days": [100.0, 3.0, None, 40.0],
            }
        ),
        "ml_pit_user_category_features": pd.DataFrame(
            {
                "cutoff_id": "serve",
                "user_id": users,
                "category": ["home", "toys", "home", "home", "garden", "toys"],
                "uc_share": [1.0, 0.25, 0.75, 1.0, 0.0, 1.0],
                "uc_days_since_last": [0.5, 3, 10, 40, 95, 1],
            }
        ),
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


@pytest.mark.parametrize("table", [t for t in SUITES if not t.startswith("raw_")])
def test_mart_suites_pass_on_good_features(table):
    summary = run_suite(SUITES[table](PARAMS), mart_frames()[table])
    assert summary.success, summary.describe_failures()


@pytest.mark.parametrize(
    ("table", "breakage", "column"),
    [
        ("ml_pit_user_item_features", lambda f: f.assign(ui_confidence=-1.0), "ui_confidence"),
        # confidence 0 almost everywhere: broken weights or decay
        ("ml_pit_user_item_features", lambda f: f.assign(ui_confidence=0.0), "ui_confidence"),
        ("ml_pit_user_item_features", lambda f: f.assign(ui_days_since_last=-2.0),
         "ui_days_since_last"),
        ("ml_pit_user_features", lambda f: f.assign(u_purchases=f["u_events"] + 1), None),
        ("ml_pit_user_features", lambda f: f.assign(u_repeat_item_share=1.5),
         "u_repeat_item_share"),
        ("ml_pit_user_features", lambda f: f.assign(u_days_since_last=None), "u_days_since_last"),
        ("ml_pit_item_features", lambda f: f.assign(i_popularity=-f["i_popularity"] - 1),
         "i_popularity"),
        ("ml_pit_item_features", lambda f: f.assign(i_conversion=3.0), "i_conversion"),
        ("ml_pit_user_category_features", lambda f: f.assign(uc_share=2.0), "uc_share"),
        (
            "ml_user_features",
            lambda f: f.assign(conversion_rate=f["conversion_rate"] * 3),
            "conversion_rate",
        ),
        ("ml_user_features", lambda f: f.assign(top_category=None), "top_category"),
        ("ml_user_features", lambda f: f.assign(recency_score=7), "recency_score"),
        (
            "ml_item_features",
            lambda f: f.assign(popularity_score=-f["popularity_score"] - 1),
            "popularity_score",
        ),
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


def test_quarantine_breaches_give_reason_rows_share_and_limit():
    params = SuiteParams(as_of=AS_OF)
    counts = {"unparsable_timestamp": 9_020, "duplicate_event": 40}
    assert quarantine_breaches(18_040, counts, params) == {
        "unparsable_timestamp": (
            "unparsable_timestamp: 9,020 of 18,040 rows (50.0%) quarantined, limit 5.0%"
        ),
        "all reasons": "all reasons: 9,060 of 18,040 rows (50.2%) quarantined, limit 10.0%",
    }


def test_quarantine_limits_per_reason_in_all_and_per_reason_overrides():
    params = SuiteParams(as_of=AS_OF)
    assert quarantine_breaches(1_000, {"duplicate_event": 50}, params) == {}  # at the limit
    assert quarantine_breaches(1_000, {"duplicate_event": 51}, params) == {
        "duplicate_event": "duplicate_event: 51 of 1,000 rows (5.1%) quarantined, limit 5.0%"
    }
    # Each reason under 5%, together over 10%.
    spread = {"duplicate_event": 40, "missing_id": 40, "invalid_number": 40}
    assert list(quarantine_breaches(1_000, spread, params)) == ["all reasons"]
    # Just over the limit is not printed as equal to it.
    assert "(5.001%)" in quarantine_breaches(100_000, {"missing_id": 5_001}, params)["missing_id"]
    loose = SuiteParams(
        as_of=AS_OF,
        max_quarantine_share=0.5,
        max_quarantine_share_by_reason={"duplicate_event": 0.3},
    )
    assert list(quarantine_breaches(1_000, {"duplicate_event": 250, "missing_id": 60}, loose)) == [
        "missing_id"
    ]
    assert quarantine_breaches(0, {}, params) == {}  # an empty table (no products file) passes


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"min_events": -1}, r"^min_events: must be >= 0, got -1$"),
        ({"max_quarantine_share": 5}, r"^max_quarantine_share: a share between 0 and 1"),
        (
            {"max_quarantine_share_by_reason": {"duplicate_event": 1.5}},
            r"^max_quarantine_share_by_reason.duplicate_event: a share between 0 and 1",
        ),
        (
            {"max_quarantine_share_by_reason": {"dupes": 0.2}},
            r"^max_quarantine_share_by_reason: unknown reason\(s\) \['dupes'\]; reasons are",
        ),
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(thresholds, message):
    with pytest.raises(ValueError, match=message):
        SuiteParams(as_of=AS_OF, **thresholds)


def grid_events(n_users: int, n_items: int) -> pd.DataFrame:
    """Every user buys every item once, the newest an hour before AS_OF."""
    rows = [
        {
            "user_id": f"u{u}",
            "item_id": f"i{i}",
            "event_id": f"e{u}-{i}",
            "event_type": "purchase",
            "occurred_at": (AS_OF - timedelta(hours=1 + u * n_items + i)).isoformat(),
        }
        for u in range(n_users)
        for i in range(n_items)
    ]
    return validate_source(RawSource("files", pd.DataFrame(rows)), now=AS_OF).events


def test_the_documented_smallest_input_passes_the_raw_gate_and_one_row_less_does_not():
    defaults = SuiteParams(as_of=AS_OF)
    smallest = grid_events(10, 10)  # docs/data-contract.md: 100 events, 10 users, 10 items
    assert run_suite(SUITES["raw_events"](defaults), smallest).success
    failed = {
        frozenset(
            (f.expectation, f.column)
            for f in run_suite(SUITES["raw_events"](defaults), frame).failures
        )
        for frame in (smallest.iloc[1:], grid_events(9, 12), grid_events(12, 9))
    }
    assert failed == {
        frozenset({("expect_table_row_count_to_be_between", None)}),
        frozenset({("expect_column_unique_value_count_to_be_between", "user_id")}),
        frozenset({("expect_column_unique_value_count_to_be_between", "item_id")}),
    }


def test_the_documented_smallest_file_loads_but_the_default_raw_gate_stops_it(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(smallest_file(doc_text()))
    events = validate_source(load_files(path), now=AS_OF).events
    params = SuiteParams(as_of=events["occurred_at"].max())
    summary = run_suite(SUITES["raw_events"](params), events)
    assert {(f.expectation, f.column) for f in summary.failures} == {
        ("expect_table_row_count_to_be_between", None),
        ("expect_column_unique_value_count_to_be_between", "user_id"),
        ("expect_column_unique_value_count_to_be_between", "item_id"),
    }
