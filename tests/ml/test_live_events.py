"""The service's per-event intake check (`check_live_events`) decides as the batch contract
(`validate_source`) does on the same rows: same events kept, same reason for each refused one."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from ml.sources.contract import RawSource, check_live_event, check_live_events, validate_source

NOW = datetime(2026, 12, 1, 12, 0, 0)
GOOD = {"event_id": "e1", "user_id": "u1", "session_id": "s1", "item_id": "i1",
        "event_type": "view", "occurred_at": "2026-11-30T12:00:00Z", "quantity": 1, "price": 2.5,
        "placement": "homepage", "request_id": "r1"}

# (what changes in GOOD, the reason both must give, or None when both accept)
CASES = [
    ({}, None),
    ({"event_type": " Purchase "}, None),
    ({"occurred_at": "2026-11-30T14:00:00+02:00"}, None),
    ({"occurred_at": "2026-11-30 12:00:00"}, None),
    ({"occurred_at": "2026-11-30"}, None),
    ({"occurred_at": 1796040000}, None),
    ({"occurred_at": "1796040000"}, None),
    ({"occurred_at": 1796040000.5}, None),
    ({"occurred_at": "2026-12-01T12:04:00Z"}, None),  # within the clock tolerance
    ({"quantity": "3"}, None),
    ({"quantity": 2.6}, None),
    ({"price": None, "quantity": None}, None),
    ({"user_id": 42}, None),
    ({"session_id": "  "}, None),
    ({"event_id": ""}, "missing_id"),
    ({"event_id": None}, "missing_id"),
    ({"user_id": "  "}, "missing_id"),
    ({"item_id": None}, "missing_id"),
    ({"event_type": "like"}, "unknown_event_type"),
    ({"event_type": None}, "unknown_event_type"),
    ({"occurred_at": "yesterday"}, "unparsable_timestamp"),
    ({"occurred_at": ""}, "unparsable_timestamp"),
    ({"occurred_at": None}, "unparsable_timestamp"),
    ({"occurred_at": "2026-13-01"}, "unparsable_timestamp"),
    ({"occurred_at": 1796040000000}, "unparsable_timestamp"),  # milliseconds
    ({"occurred_at": "1600-01-01"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-12-01T12:06:00Z"}, "future_timestamp"),
    ({"occurred_at": "2999-01-01"}, "future_timestamp"),
    ({"occurred_at": 9.3e9}, "future_timestamp"),
    ({"quantity": "two"}, "invalid_number"),
    ({"price": "1,50"}, "invalid_number"),
    ({"quantity": -1}, "negative_quantity"),
    ({"price": -0.5}, "negative_price"),
    ({"dwell_seconds": -3}, "negative_quantity"),
    ({"event_type": "like", "occurred_at": "yesterday"}, "unknown_event_type"),  # the first
    ({"occurred_at": "2026-W48-1"}, "unparsable_timestamp"),
    ({"occurred_at": "20261130"}, None),
    ({"occurred_at": "2026W481"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-11"}, None),
    ({"occurred_at": "2026"}, None),  # a number: epoch seconds, for both
    ({"occurred_at": "2026-11-30T12:00:00,5Z"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-11-30T12:00:00.5+0200"}, None),
    ({"occurred_at": "2026-11-30T24:00:00"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-11-30T12:00:00UTC"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-11-30T12:00:00.123456789Z"}, None),
    ({"occurred_at": "2026-11-30T12"}, None),
    ({"occurred_at": "2026-11-30T12:00Z"}, None),
    ({"occurred_at": "  2026-11-30T12:00:00Z "}, None),
    ({"occurred_at": "2026-11-30t12:00:00z"}, "unparsable_timestamp"),
    ({"occurred_at": True}, "unparsable_timestamp"),
    ({"quantity": "inf"}, "invalid_number"),
    ({"quantity": "1e3"}, None),
    ({"quantity": "1_000"}, "invalid_number"),
    ({"quantity": "\u0661\u0662"}, "invalid_number"),  # Arabic-Indic digits
    ({"quantity": True}, None),
    ({"quantity": 10**400}, "invalid_number"),
    ({"price": "1e400"}, "invalid_number"),
    ({"occurred_at": "1_796_040_000"}, "unparsable_timestamp"),
    ({"occurred_at": "2026-11-30T12:00:00+02:00:30"}, "unparsable_timestamp"),
    ({"occurred_at": 10**400}, "unparsable_timestamp"),
]


def _batch_reason(row: dict) -> str | None:
    frame = pd.DataFrame([row], dtype=object)
    validated = validate_source(RawSource("live", frame), now=NOW)
    if len(validated.events):
        return None
    return validated.quarantine["reason"].iloc[0]


@pytest.mark.parametrize("change,reason", CASES, ids=[str(c[0]) for c in CASES])
def test_one_event_is_judged_as_the_batch_contract_judges_its_row(change, reason):
    row = {**GOOD, **change}
    event, problem = check_live_event(row, NOW)
    assert _batch_reason(row) == reason
    assert (problem.reason if problem else None) == reason
    if reason is None:
        batch = validate_source(RawSource("live", pd.DataFrame([row], dtype=object)), now=NOW)
        kept = batch.events.iloc[0]
        assert pd.Timestamp(event["occurred_at"]).tz_convert(None) == kept["occurred_at"]
        for name in ("event_id", "user_id", "item_id", "event_type", "session_id"):
            assert event[name] == (None if pd.isna(kept[name]) else kept[name])
        assert event["quantity"] == (None if pd.isna(kept["quantity"]) else kept["quantity"])
    else:
        assert problem.field in row or problem.field == "user_id"
        assert problem.field in problem.detail or problem.reason == "missing_id"


def test_a_bad_event_never_costs_its_neighbours_their_place():
    rows = [GOOD, {**GOOD, "event_id": "e2", "occurred_at": "soon"}, {**GOOD, "event_id": "e3"},
            {**GOOD, "event_id": "e1"}, "not an object", {**GOOD, "event_id": "e4",
                                                          "user_id": None, "anonymous_id": "a1"}]
    accepted, rejected = check_live_events(rows, NOW)
    assert [e["event_id"] for e in accepted] == ["e1", "e3", "e4"]
    assert [(r["index"], r["field"], r["reason"]) for r in rejected] == [
        (1, "occurred_at", "unparsable_timestamp"), (3, "event_id", "duplicate_event"),
        (4, "event", "invalid_event")]
    assert accepted[2]["anonymous_id"] == "a1" and accepted[2]["user_id"] is None
    assert accepted[0]["occurred_at"] == "2026-11-30T12:00:00.000000Z"


def test_an_event_needs_a_customer_or_a_visitor_id_and_ids_must_be_text():
    _, problem = check_live_event({**GOOD, "user_id": None}, NOW)
    assert (problem.field, problem.reason) == ("user_id", "missing_id")
    assert "anonymous_id" in problem.detail
    _, problem = check_live_event({**GOOD, "item_id": {"id": 1}}, NOW)
    assert (problem.field, problem.reason) == ("item_id", "invalid_value")
