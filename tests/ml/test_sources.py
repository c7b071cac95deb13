"""The contract validation and every adapter: valid rows kept, invalid rows quarantined with a
reason, raw = loaded + quarantined for every table."""

import json
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS, QUARANTINE_REASONS
from ml.sources.contract import TIMESTAMP_FORMATS, RawSource, parse_timestamps, validate_source
from ml.sources.files import check_files, load_files
from ml.sources.load import SourceRequest, load_source
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


def events_frame(times: list[str]) -> RawSource:
    return RawSource(
        "files",
        pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(len(times))],
                "user_id": "u1",
                "item_id": "i1",
                "event_type": "view",
                "occurred_at": times,
            }
        ),
    )


@pytest.mark.parametrize("numpy_errors", ["raise", "ignore", "warn"])
def test_a_time_beyond_pandas_range_is_future_not_unparsable(numpy_errors):
    # 2999 and an epoch in 2264 are real times after any load, but too late for pandas' ns range.
    raw = events_frame(["2999-01-01T00:00:00Z", "2999-06-30 08:00:00", "9300000000", "2026-10-01"])
    with np.errstate(all=numpy_errors):
        validated = validate_source(raw, now=NOW)
    reasons = validated.quarantine.set_index("row_number")["reason"].to_dict()
    assert reasons == {0: "future_timestamp", 1: "future_timestamp", 2: "future_timestamp"}
    assert list(validated.events["event_id"]) == ["e3"]
    detail = validated.quarantine["detail"].iloc[0]
    assert detail.startswith("occurred_at '2999-01-01T00:00:00Z' is after the load time")


def test_a_product_created_in_2999_is_future_too():
    raw = RawSource(
        "files",
        events_frame(["2026-10-01"]).events,
        products=pd.DataFrame(
            {"item_id": ["i1", "i2"], "created_at": ["2999-01-01", "2026-01-01"]}
        ),
    )
    validated = validate_source(raw, now=NOW)
    assert validated.quarantine[["table_name", "reason"]].values.tolist() == [
        ["products", "future_timestamp"]
    ]
    assert validated.products["item_id"].tolist() == ["i2"]


def test_an_unparsable_time_names_the_value_and_the_accepted_formats():
    raw = events_frame(["30/11/2026 12:00", "", "1790000000000", "0001-01-01"])
    details = validate_source(raw, now=NOW).quarantine.set_index("row_number")["detail"]
    assert details[0] == (
        f"occurred_at '30/11/2026 12:00' is not a time; accepted: {TIMESTAMP_FORMATS}"
    )
    assert details[1] == "occurred_at is empty"
    assert details[2].startswith(
        "occurred_at '1790000000000' is too large for epoch seconds (milliseconds?)"
    )
    assert details[3] == (
        "occurred_at '0001-01-01' is before 1677-09-22, the earliest time supported"
    )


def test_every_format_the_hint_names_is_accepted():
    # The hint is only useful if it is true: each example it gives must parse.
    examples = re.findall(r"\b\d{4}-[\d:T +\-Z]*\d\b(?:Z)?|\b\d{10}\b", TIMESTAMP_FORMATS)
    assert len(examples) == 5
    parsed = parse_timestamps(pd.Series(examples))
    assert parsed.notna().all(), dict(zip(examples, parsed, strict=True))
    assert parsed[0] == pd.Timestamp("2026-11-30 12:00:00") == parsed[2] == parsed[4]
    assert parsed[1] == pd.Timestamp("2026-11-30 10:00:00")


MINIMAL_ROWS = [["u1", "i1", "2026-10-01T10:00:00Z"], ["u2", "i2", "2026-10-02T11:30:00Z"]]


@pytest.mark.parametrize(("sep", "name"), [(";", "events.csv"), ("\t", "events.csv"),
                                           ("\t", "events.tsv"), ("|", "events.txt")])
def test_separators_are_found_from_the_header(tmp_path, sep, name):
    path = tmp_path / name
    header = ["user_id", "item_id", "occurred_at", "placement"]
    # A comma inside a value of every row must not be mistaken for the separator.
    lines = [header] + [r + ["home, top"] for r in MINIMAL_ROWS]
    path.write_text("\n".join(sep.join(r) for r in lines) + "\n")
    validated = validate_source(load_files(path), now=NOW)
    assert validated.raw_counts["events"] == 2
    assert validated.events["user_id"].tolist() == ["u1", "u2"]
    assert validated.events["placement"].tolist() == ["home, top"] * 2
    assert validated.events["occurred_at"].tolist() == [
        pd.Timestamp("2026-10-01 10:00:00"), pd.Timestamp("2026-10-02 11:30:00")
    ]


def test_a_given_separator_is_used_and_a_wrong_one_is_named(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user_id;item_id;occurred_at\n" + "\n".join(";".join(r) for r in MINIMAL_ROWS))
    for sep in (";", "semicolon"):
        assert validate_source(load_files(path, sep=sep), now=NOW).events["item_id"].tolist() == [
            "i1", "i2"
        ]
    with pytest.raises(ValueError, match=r"read as one column \(separator ','\): is it ';'\?"):
        load_files(path, sep=",")
    with pytest.raises(ValueError, match=r"^sep: ';;' is not a separator"):
        load_files(path, sep=";;")
    request = SourceRequest(source="files", events_path=str(path), sep=";")
    assert len(load_source(request, now=NOW).validated.events) == 2
    with pytest.raises(ValueError, match="sep: only the files source takes a separator"):
        load_source(SourceRequest(source="rees46", events_path=str(path), sep=";"))


def test_check_files_names_file_missing_unknown_and_expected_columns(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("customer;item_id;when\nu1;i1;2026-01-01\n")
    products = tmp_path / "products.csv"
    products.write_text("sku,title\ni1,mug\n")
    problems = check_files(events, products, tmp_path / "nope.csv")
    assert problems == [
        f"{events}: events file is missing required column(s) ['user_id', 'occurred_at']; "
        "it has ['customer', 'item_id', 'when'] (not in the contract, ignored: "
        "['customer', 'when']); expected ['user_id', 'item_id', 'occurred_at'] and optionally "
        "['event_id', 'session_id', 'event_type', 'quantity', 'price', 'order_id', "
        "'dwell_seconds', 'placement', 'request_id'] (other names: map them in the settings "
        "file's [columns.events], docs/settings.md)",
        f"{products}: products file is missing required column(s) ['item_id']; it has "
        "['sku', 'title'] (not in the contract, ignored: ['sku']); expected ['item_id'] and "
        "optionally ['title', 'description', 'category_path', 'brand', 'price', 'in_stock', "
        "'created_at'] (other names: map them in the settings file's [columns.products], "
        "docs/settings.md)",
        f"{tmp_path / 'nope.csv'}: no such file",
    ]
    # The same message as a run would fail with, so the pre-flight check and the run agree.
    with pytest.raises(ValueError) as raised:
        load_files(events)
    assert str(raised.value) == problems[0]


def test_check_files_passes_good_files_and_catches_what_reading_would(tmp_path):
    good = tmp_path / "events.csv"
    good.write_text("\ufeffuser_id, item_id, occurred_at\nu1,i1,2026-01-01\n")  # BOM, spaces
    pd.DataFrame({"item_id": ["i1"], "title": ["mug"]}).to_parquet(tmp_path / "p.parquet")
    assert check_files(good, tmp_path / "p.parquet") == []
    assert check_files(good, sep="tab")[0].endswith(
        "the header was read as one column (separator '\\t'): is it ','?; expected "
        "['user_id', 'item_id', 'occurred_at'] and optionally ['event_id', 'session_id', "
        "'event_type', 'quantity', 'price', 'order_id', 'dwell_seconds', 'placement', "
        "'request_id'] (other names: map them in the settings file's [columns.events], "
        "docs/settings.md)"
    )
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "events.json").write_text("{}")
    assert check_files(tmp_path / "empty.csv") == [
        f"{tmp_path / 'empty.csv'}: the file is empty (a header line is needed)"
    ]
    assert check_files(tmp_path / "events.json")[0].startswith(
        f"{tmp_path / 'events.json'}: unsupported file type"
    )
    assert check_files(good, sep="ab") == [
        "sep: 'ab' is not a separator; use one character such as ',' ';' '|' or 'tab' "
        "(or leave it out to find it from the header)"
    ]


def test_a_null_in_a_parquet_file_is_missing_not_the_text_none(tmp_path):
    pd.DataFrame(
        {"user_id": ["u1", None], "item_id": ["i1", "i2"], "occurred_at": ["2026-01-01"] * 2}
    ).to_parquet(tmp_path / "e.parquet")
    validated = validate_source(load_files(tmp_path / "e.parquet"), now=NOW)
    assert validated.events["user_id"].tolist() == ["u1"]
    assert validated.quarantine["detail"].tolist() == ["user_id is empty"]


def test_a_time_without_offset_is_utc_even_after_one_with_an_offset():
    # pandas 2.3 would carry the +02:00 of the first string over to the ones without an offset.
    parsed = parse_timestamps(
        pd.Series(["2026-11-30T12:00:00+02:00", "2026-11-30 12:00:00", "2026-11-30T12:00:00"])
    )
    assert parsed.tolist() == [pd.Timestamp("2026-11-30 10:00:00")] + [
        pd.Timestamp("2026-11-30 12:00:00")
    ] * 2
