"""The contract validation and every adapter: valid rows kept, invalid rows quarantined with a
reason, raw = loaded + quarantined for every table."""

import json
from datetime import datetime

import pandas as pd
import pytest

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS, QUARANTINE_REASONS
from ml.sources.contract import RawSource, parse_timestamps, validate_source
from ml.sources.files import load_files
from ml.sources.online_retail import load_online_retail
from ml.sources.rees46 import load_rees46

NOW = datetime(2026, 11, 1, 12, 0, 0)


def assert_counts_add_up(validated):
    quarantined = validated.quarantine["table_name"].value_counts().to_dict()
    for table, raw in validated.raw_counts.items():
        assert raw == len(getattr(validated, table)) + quarantined.get(table, 0), table


def assert_contract_dtypes(validated):
    for table, columns in (
        ("events", EVENT_COLUMNS),
        ("products", PRODUCT_COLUMNS),
        ("customers", CUSTOMER_COLUMNS),
    ):
        frame = getattr(validated, table)
        assert list(frame.columns) == list(columns)
        assert {c: str(t) for c, t in frame.dtypes.items()} == columns


BAD_EVENTS_CSV = """\
event_id,user_id,item_id,occurred_at,event_type,quantity,price,session_id
e1,u1,i1,2026-10-01T10:00:00Z,view,1,9.5,s1
e2,u1,i2,2026-10-01T10:01:00+02:00,purchase,2,3.0,s1
e3,u2,i1,1790000000,add_to_cart,1,9.5,s2
e4,,i1,2026-10-01T10:00:00Z,view,1,9.5,s3
e5,u3,,2026-10-01T10:00:00Z,view,1,9.5,s3
e6,u3,i1,2026-10-01T10:00:00Z,teleport,1,9.5,s3
e7,u3,i1,yesterday-ish,view,1,9.5,s3
e8,u3,i1,2031-01-01T00:00:00Z,view,1,9.5,s3
e9,u3,i1,2026-10-01T10:00:00Z,purchase,1,-4.0,s3
e10,u3,i1,2026-10-01T10:00:00Z,purchase,-1,4.0,s3
e1,u1,i1,2026-10-01T10:00:00Z,view,1,9.5,s1
e11,u3,i1,2026-10-01T10:00:00Z,purchase,one,4.0,s3
"""


@pytest.fixture
def bad_events_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(BAD_EVENTS_CSV)
    return path


def test_bad_file_quarantines_every_reason_and_keeps_valid_rows(bad_events_file):
    validated = validate_source(load_files(bad_events_file), now=NOW)

    assert list(validated.events["event_id"]) == ["e1", "e2", "e3"]
    reasons = validated.quarantine.set_index("row_number")["reason"].to_dict()
    assert reasons == {
        3: "missing_id",
        4: "missing_id",
        5: "unknown_event_type",
        6: "unparsable_timestamp",
        7: "future_timestamp",
        8: "negative_price",
        9: "negative_quantity",
        10: "duplicate_event",
        11: "invalid_number",
    }
    assert set(reasons.values()) <= set(QUARANTINE_REASONS)
    assert_counts_add_up(validated)
    assert_contract_dtypes(validated)


def test_quarantine_names_the_field_and_keeps_the_original_row(bad_events_file):
    validated = validate_source(load_files(bad_events_file), now=NOW)
    q = validated.quarantine.set_index("row_number")
    assert q.loc[3, "detail"] == "user_id is empty"
    assert q.loc[4, "detail"] == "item_id is empty"
    assert "teleport" in q.loc[5, "detail"]
    assert json.loads(q.loc[8, "record"])["price"] == "-4.0"


def test_timestamps_offsets_and_epoch_seconds_become_naive_utc():
    parsed = parse_timestamps(
        pd.Series(["2026-10-01T10:01:00+02:00", "1790000000", "nonsense", "1e30"]))
    assert parsed[0] == pd.Timestamp("2026-10-01 08:01:00")
    assert parsed[1] == pd.Timestamp("2026-09-21 14:13:20")
    assert pd.isna(parsed[2])
    assert pd.isna(parsed[3])  # an absurd epoch is unparsable (quarantined), not a crash


def test_files_source_needs_only_user_item_and_time(tmp_path):
    path = tmp_path / "minimal.csv"
    path.write_text(
        "user_id,item_id,occurred_at\nu1,i1,2026-01-01\nu1,i1,2026-01-01\nu2,i1,2026-01-02\n"
    )
    validated = validate_source(load_files(path), now=NOW)
    # No event_id: one is derived from the content, so the repeated identical row is a duplicate.
    assert len(validated.events) == 2
    assert validated.quarantine["reason"].tolist() == ["duplicate_event"]
    assert set(validated.events["event_type"]) == {"purchase"}
    assert validated.products.empty and validated.customers.empty


def test_files_source_reads_parquet_with_products_and_customers(tmp_path):
    pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "item_id": ["i1", "i2"],
            "occurred_at": ["2026-01-01", "2026-01-02"],
        }
    ).to_parquet(tmp_path / "e.parquet")
    pd.DataFrame(
        {
            "item_id": ["i1", "i1", "i2"],
            "title": ["a", "a again", "b"],
            "price": ["1.5", "1.5", "2"],
        }
    ).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"user_id": ["u1"], "consent_personalization": ["false"]}).to_csv(
        tmp_path / "c.csv", index=False
    )
    validated = validate_source(
        load_files(tmp_path / "e.parquet", tmp_path / "p.csv", tmp_path / "c.csv"), now=NOW
    )
    assert validated.products["item_id"].tolist() == ["i1", "i2"]
    assert validated.quarantine["reason"].tolist() == ["duplicate_id"]
    assert validated.customers["consent_personalization"].tolist() == [False]
    assert_counts_add_up(validated)
    assert_contract_dtypes(validated)


def test_files_source_without_required_column_names_it(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("customer,item_id,occurred_at\nu1,i1,2026-01-01\n")
    with pytest.raises(ValueError, match=r"missing required column\(s\) \['user_id'\]"):
        load_files(path)


def test_online_retail_maps_purchases_returns_guests_and_fees(online_retail_file):
    validated = validate_source(load_online_retail(online_retail_file), now=NOW)
    events = validated.events
    raw = pd.read_parquet(online_retail_file)

    assert validated.raw_counts["events"] == len(raw) == 6000
    assert_counts_add_up(validated)
    assert_contract_dtypes(validated)
    reasons = validated.quarantine_counts()["events"]
    assert reasons["duplicate_event"] == raw.duplicated().sum() == 97
    assert reasons["not_a_product"] > 0 and reasons["negative_quantity"] == 2
    # Cancellation lines become returns of a positive quantity.
    returns = events[events["event_type"] == "return"]
    assert len(returns) > 0 and (returns["quantity"] > 0).all()
    assert returns["order_id"].str.startswith("C").all()
    # Guests are anonymous baskets, one per invoice, and have no customer profile.
    guests = events[events["user_id"].str.startswith("guest-")]
    assert (guests["user_id"] == "guest-" + guests["order_id"]).all()
    assert not validated.customers["user_id"].str.startswith("guest-").any()
    assert set(events["event_type"]) == {"purchase", "return"}
    assert not events["item_id"].isin(["POST", "M", "DOT"]).any()


def test_rees46_maps_event_types_sessions_and_categories(rees46_file):
    validated = validate_source(load_rees46(rees46_file), now=NOW)
    counts = validated.events["event_type"].value_counts().to_dict()
    assert counts == {"view": 2941, "purchase": 36, "add_to_cart": 23}
    assert_counts_add_up(validated)
    assert_contract_dtypes(validated)
    purchases = validated.events[validated.events["event_type"] == "purchase"]
    assert (purchases["order_id"] == purchases["session_id"]).all()
    products = validated.products.set_index("item_id")
    assert products.loc["3900821", "category_path"] == "appliances > environment > water_heater"
    assert validated.as_of == datetime(2019, 10, 1, 2, 23, 38)


def test_rees46_repeated_rows_are_duplicates(rees46_file, tmp_path):
    lines = rees46_file.read_text().splitlines()
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(lines[:11] + lines[5:8]) + "\n")
    validated = validate_source(load_rees46(path), now=NOW)
    assert len(validated.events) == 10
    assert validated.quarantine["reason"].tolist() == ["duplicate_event"] * 3


def test_validation_of_an_empty_source_keeps_schema():
    validated = validate_source(
        RawSource("files", pd.DataFrame(columns=["user_id", "item_id", "occurred_at"])), now=NOW
    )
    assert validated.events.empty and validated.quarantine.empty
    assert_contract_dtypes(validated)
