"""Validation onto the data contract: valid rows are kept, invalid rows quarantined with a reason.

Adapters (`ml.sources.online_retail`, `rees46`, `files`, `synthetic`) only *map* a source's
columns onto the contract names; every check lives here, so every source is held to the same rules
and `raw = loaded + quarantined` holds for each table by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ml.schema import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    PRODUCT_COLUMNS,
    QUARANTINE_COLUMNS,
    RAW_TABLES,
)

# Clocks drift; an event a few minutes "ahead" of the loader is not an error.
FUTURE_TOLERANCE = timedelta(minutes=5)
# pandas timestamps span the years 1677..2262: about +-9.2e9 seconds around the epoch.
MAX_EPOCH_SECONDS = 9.2e9
# Seconds this large are the year 5138 and later: such a number is an epoch in milliseconds (or
# smaller units), not seconds, and is reported as such rather than as a time far in the future.
MAX_PLAUSIBLE_EPOCH_SECONDS = 1e11
# What parse_timestamps accepts, for the quarantine detail of a time it could not read.
TIMESTAMP_FORMATS = (
    "ISO-8601 such as 2026-11-30T12:00:00Z, 2026-11-30T12:00:00+02:00, "
    "2026-11-30 12:00:00 (no offset = UTC) or 2026-11-30, or epoch seconds such as 1796040000"
)


@dataclass(frozen=True)
class RawSource:
    """What an adapter returns: contract column names, values not yet checked or typed."""

    name: str
    events: pd.DataFrame
    products: pd.DataFrame = field(default_factory=pd.DataFrame)
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class ValidatedSource:
    """Typed, contract-conformant tables plus the quarantined rows and the counts that tie them."""

    name: str
    events: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    quarantine: pd.DataFrame
    as_of: datetime  # the reference "now" of this load: recency and splits are relative to it
    raw_counts: dict[str, int]

    def loaded_counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in RAW_TABLES}

    def quarantine_counts(self) -> dict[str, dict[str, int]]:
        """{table: {reason: rows}}: what governance reads."""
        counts: dict[str, dict[str, int]] = {name: {} for name in RAW_TABLES}
        grouped = self.quarantine.groupby(["table_name", "reason"]).size()
        for (table, reason), n in grouped.items():
            counts[str(table)][str(reason)] = int(n)
        return counts


class _Rows:
    """Collects the first failing reason per row of one table while checks run in order."""

    def __init__(self, table: str, frame: pd.DataFrame):
        self.table = table
        self.frame = frame
        self.reason = pd.Series(pd.NA, index=frame.index, dtype="string")
        self.detail = pd.Series(pd.NA, index=frame.index, dtype="string")

    def flag(self, mask: pd.Series, reason: str, detail: str | pd.Series) -> None:
        new = mask.fillna(False).astype(bool) & self.reason.isna()
        self.reason[new] = reason
        self.detail[new] = detail[new] if isinstance(detail, pd.Series) else detail

    @property
    def valid(self) -> pd.Series:
        return self.reason.isna()

    def quarantined(self) -> pd.DataFrame:
        bad = ~self.valid
        if not bad.any():
            return _empty(QUARANTINE_COLUMNS)
        shown = self.frame.loc[bad].drop(columns=["rejected_reason"], errors="ignore")
        records = shown.to_json(orient="records", lines=True, date_format="iso")
        return pd.DataFrame(
            {
                "table_name": self.table,
                "row_number": np.flatnonzero(bad.to_numpy()),
                "reason": self.reason[bad].to_numpy(),
                "detail": self.detail[bad].to_numpy(),
                "record": records.strip().split("\n"),
            }
        ).astype(QUARANTINE_COLUMNS)


def validate_source(raw: RawSource, now: datetime | None = None) -> ValidatedSource:
    """Check every table against the contract. `now` (UTC) bounds timestamps (default: clock)."""
    now = now or datetime.utcnow()
    events, events_rows = _validate_events(raw.events, now)
    products, products_rows = _validate_products(raw.products, now)
    customers, customers_rows = _validate_customers(raw.customers, now)
    quarantine = pd.concat(
        [r.quarantined() for r in (events_rows, products_rows, customers_rows)], ignore_index=True
    )
    as_of = events["occurred_at"].max() if len(events) else pd.Timestamp(now)
    return ValidatedSource(
        name=raw.name,
        events=events,
        products=products,
        customers=customers,
        quarantine=quarantine.astype(QUARANTINE_COLUMNS),
        as_of=pd.Timestamp(as_of).to_pydatetime(),
        raw_counts={
            "events": len(raw.events),
            "products": len(raw.products),
            "customers": len(raw.customers),
        },
    )


def content_event_ids(frame: pd.DataFrame) -> pd.Series:
    """A deterministic event id from a row's content, for sources that have none.

    Two identical rows get the same id, so an exact repeat is quarantined as a duplicate event.
    """
    # pandas' row hash is seeded with a fixed key: stable across runs and machines.
    hashed = pd.util.hash_pandas_object(frame.astype("string"), index=False)
    return pd.Series([f"{h:016x}" for h in hashed.to_numpy()], index=frame.index, dtype="string")


def _validate_events(frame: pd.DataFrame, now: datetime) -> tuple[pd.DataFrame, _Rows]:
    frame = _with_columns(frame.reset_index(drop=True), EVENT_COLUMNS)
    rows = _Rows("events", frame)
    # Adapters mark rows they know are not events of the contract (fees, adjustments) this way.
    if "rejected_reason" in frame:
        rows.flag(frame["rejected_reason"].notna(), "not_a_product", frame["rejected_reason"])
    ids = {c: _clean_string(frame[c]) for c in ("event_id", "user_id", "item_id")}
    for column, values in ids.items():
        rows.flag(values.isna(), "missing_id", f"{column} is empty")
    event_type = _clean_string(frame["event_type"]).str.lower()
    rows.flag(
        ~event_type.isin(EVENT_TYPES),
        "unknown_event_type",
        "event_type " + event_type.fillna("<empty>") + " is not one of " + ", ".join(EVENT_TYPES),
    )
    occurred_at = _checked_times(frame, "occurred_at", rows, now, required=True)
    quantity = _numbers(frame["quantity"], "quantity", rows)
    price = _numbers(frame["price"], "price", rows)
    dwell = _numbers(frame["dwell_seconds"], "dwell_seconds", rows)
    rows.flag(quantity < 0, "negative_quantity", "quantity is below zero")
    rows.flag(price < 0, "negative_price", "price is below zero")
    rows.flag(dwell < 0, "negative_quantity", "dwell_seconds is below zero")
    # Duplicates are judged among rows that are otherwise valid: the first valid one is kept.
    repeated = ids["event_id"].where(rows.valid).duplicated(keep="first") & ids["event_id"].notna()
    rows.flag(
        repeated, "duplicate_event", "event_id " + ids["event_id"].fillna("") + " seen before"
    )

    typed = frame.assign(
        **ids,
        event_type=event_type,
        occurred_at=occurred_at,
        quantity=quantity.round().astype("Int64"),
        price=price,
        dwell_seconds=dwell,
        session_id=_clean_string(frame["session_id"]),
        order_id=_clean_string(frame["order_id"]),
        placement=_clean_string(frame["placement"]),
        request_id=_clean_string(frame["request_id"]),
    )
    return _typed(typed.loc[rows.valid], EVENT_COLUMNS), rows


def _validate_products(frame: pd.DataFrame, now: datetime) -> tuple[pd.DataFrame, _Rows]:
    frame = _with_columns(frame.reset_index(drop=True), PRODUCT_COLUMNS)
    rows = _Rows("products", frame)
    item_id = _clean_string(frame["item_id"])
    rows.flag(item_id.isna(), "missing_id", "item_id is empty")
    created_at = _checked_times(frame, "created_at", rows, now)
    price = _numbers(frame["price"], "price", rows)
    rows.flag(price < 0, "negative_price", "price is below zero")
    repeated = item_id.where(rows.valid).duplicated(keep="first") & item_id.notna()
    rows.flag(repeated, "duplicate_id", "item_id " + item_id.fillna("") + " seen before")
    typed = frame.assign(
        item_id=item_id,
        title=_clean_string(frame["title"]),
        description=_clean_string(frame["description"]),
        category_path=_clean_string(frame["category_path"]),
        brand=_clean_string(frame["brand"]),
        price=price,
        in_stock=_booleans(frame["in_stock"]),
        created_at=created_at,
    )
    return _typed(typed.loc[rows.valid], PRODUCT_COLUMNS), rows


def _validate_customers(frame: pd.DataFrame, now: datetime) -> tuple[pd.DataFrame, _Rows]:
    frame = _with_columns(frame.reset_index(drop=True), CUSTOMER_COLUMNS)
    rows = _Rows("customers", frame)
    user_id = _clean_string(frame["user_id"])
    rows.flag(user_id.isna(), "missing_id", "user_id is empty")
    times = {}
    for column in ("first_seen_at", "consent_personalization_at", "consent_marketing_at"):
        times[column] = _checked_times(frame, column, rows, now)
    repeated = user_id.where(rows.valid).duplicated(keep="first") & user_id.notna()
    rows.flag(repeated, "duplicate_id", "user_id " + user_id.fillna("") + " seen before")
    typed = frame.assign(
        user_id=user_id,
        **times,
        country=_clean_string(frame["country"]),
        age_band=_clean_string(frame["age_band"]),
        gender=_clean_string(frame["gender"]),
        consent_personalization=_booleans(frame["consent_personalization"]),
        consent_marketing=_booleans(frame["consent_marketing"]),
    )
    return _typed(typed.loc[rows.valid], CUSTOMER_COLUMNS), rows


def parse_timestamps(values: pd.Series) -> pd.Series:
    """ISO-8601 strings (any offset) or epoch seconds -> naive UTC; anything else -> NaT.

    The accepted forms are TIMESTAMP_FORMATS. A time outside pandas' range (1677..2262) is NaT
    here; `_read_times` tells those apart from values that are not times at all.
    """
    return _read_times(values)[0]


def _read_times(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """-> (naive UTC times, after_range, why_not).

    after_range: a real time later than pandas can hold (the year 2999): future for any load.
    why_not: for a non-empty value that gives no time and is not after_range, what is wrong.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True).dt.tz_convert(None).astype("datetime64[us]")
        never = pd.Series(False, index=values.index)
        return parsed, never, pd.Series(pd.NA, index=values.index, dtype="string")
    text = values.astype("string").str.strip().mask(lambda t: t == "")
    # The same answer whatever numpy's error state is (np.seterr may be "raise" in a caller).
    with np.errstate(all="ignore"):
        as_number = pd.to_numeric(text, errors="coerce").astype("float64")
        is_number = as_number.notna()
        magnitude = as_number.abs()
        in_range = is_number & (magnitude < MAX_EPOCH_SECONDS)
        from_epoch = pd.to_datetime(as_number[in_range], unit="s", utc=True, errors="coerce")
        from_text = _parse_iso(text.where(~is_number))
    parsed = from_text.where(~is_number, from_epoch.reindex(values.index))
    parsed = parsed.dt.tz_convert(None).astype("datetime64[us]")

    unread = text.notna() & parsed.isna()
    bounds = text[unread & ~is_number].map(_iso_out_of_range).reindex(values.index)
    too_big = is_number & (magnitude >= MAX_PLAUSIBLE_EPOCH_SECONDS)
    after_range = (bounds == "after") | (
        is_number & (as_number >= MAX_EPOCH_SECONDS) & ~too_big
    )
    why_not = pd.Series(pd.NA, index=values.index, dtype="string")
    why_not[unread & ~after_range] = f"is not a time; accepted: {TIMESTAMP_FORMATS}"
    before = (bounds == "before") | (is_number & (as_number <= -MAX_EPOCH_SECONDS) & ~too_big)
    why_not[before] = "is before 1677-09-22, the earliest time supported"
    why_not[too_big] = (
        "is too large for epoch seconds (milliseconds?); "
        f"accepted: {TIMESTAMP_FORMATS}"
    )
    return parsed, after_range.fillna(False).astype(bool), why_not


def _parse_iso(text: pd.Series) -> pd.Series:
    """ISO-8601 strings -> UTC times (NaT where not ISO-8601); no offset means UTC.

    Times with and without an offset are parsed apart: pandas 2.3 (format="ISO8601", utc=True)
    applies the offset of an earlier string to a later one that has none.
    """
    # An offset (Z, +hh:mm, -hh) can only follow the time, which starts after "T" or a space.
    has_offset = text.str.contains(r"[T ]\d[^+\-Z]*[+\-Z]", regex=True).fillna(False)
    parts = [
        pd.to_datetime(text[mask].astype(object), utc=True, errors="coerce", format="ISO8601")
        for mask in (has_offset, ~has_offset)
    ]
    return pd.concat(parts).reindex(text.index)


def _iso_out_of_range(text: str) -> str | None:
    """"after" / "before" for a valid ISO-8601 time beyond pandas' range; None otherwise."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    if moment > pd.Timestamp.max:
        return "after"
    if moment < pd.Timestamp.min:
        return "before"
    return None  # in range, yet not a form pandas reads (ISO week dates): not accepted


def _checked_times(
    frame: pd.DataFrame, column: str, rows: _Rows, now: datetime, required: bool = False
) -> pd.Series:
    """Parse one time column and quarantine what is not a time (and, for `required`, what is
    empty or after the load time). Later than pandas' range is always `future_timestamp`."""
    parsed, after_range, why_not = _read_times(frame[column])
    late = after_range
    if required:
        empty = frame[column].astype("string").str.strip().fillna("") == ""
        rows.flag(empty, "unparsable_timestamp", f"{column} is empty")
        late = late | (parsed > pd.Timestamp(now + FUTURE_TOLERANCE))
    if why_not.notna().any() or late.any():  # the per-row detail only when a row needs it
        shown = _shown(frame[column], column)
        rows.flag(why_not.notna(), "unparsable_timestamp", shown + " " + why_not)
        load_time = f" is after the load time {now:%Y-%m-%dT%H:%M:%SZ}"
        rows.flag(late, "future_timestamp", shown + load_time)
    return parsed


def _shown(values: pd.Series, column: str) -> pd.Series:
    """`column 'value'` for a quarantine detail (the value cut at 40 characters)."""
    return column + " '" + values.astype("string").str.slice(0, 40) + "'"


def _numbers(values: pd.Series, column: str, rows: _Rows) -> pd.Series:
    if values.dtype == object:  # a whole number past float's range is not a quantity or price
        values = values.map(lambda v: "out of range" if isinstance(v, int)
                            and not isinstance(v, bool) and abs(v) > 1e308 else v)
    number = pd.to_numeric(values, errors="coerce").astype("float64")
    number = number.mask(np.isinf(number))  # "inf" is no quantity or price either
    invalid = number.isna() & values.notna() & (values.astype("string").str.strip() != "")
    if invalid.any():
        rows.flag(invalid, "invalid_number", _shown(values, column) + " is not a number")
    return number


def _booleans(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    return text.map(mapping).astype("boolean")


def _clean_string(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _with_columns(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    missing = {
        c: pd.Series(pd.NA, index=frame.index, dtype="object")
        for c in columns
        if c not in frame.columns
    }
    return frame.assign(**missing) if missing else frame


def _typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return frame[list(columns)].astype(columns).reset_index(drop=True)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


# -- one event at a time: the service's intake (POST /events) -----------------------------------
#
# The same rules as `_validate_events`, for a few events per request without pandas' fixed costs
# (tens of ms per call). tests/ml/test_live_events.py holds both to the same decisions on the
# same rows; the warehouse drain still runs every event through `validate_source`.

LIVE_ID_FIELDS = ("event_id", "item_id")  # required; and user_id or anonymous_id
LIVE_TEXT_FIELDS = ("session_id", "order_id", "placement", "request_id")
LIVE_NUMBER_FIELDS = ("quantity", "price", "dwell_seconds")


def live_time_text(moment: datetime) -> str:
    """A live event's times (occurred_at, received_at): ISO-8601 UTC with microseconds and Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_live_time(text: str) -> datetime:
    """`live_time_text` back to a naive UTC datetime."""
    return datetime.fromisoformat(text.rstrip("Z"))


@dataclass(frozen=True)
class EventProblem:
    """Why one event was refused: the field, a QUARANTINE_REASONS code, and a sentence."""

    field: str
    reason: str
    detail: str


def check_live_event(record: object, now: datetime) -> tuple[dict | None, EventProblem | None]:
    """(the event in canonical form, None) or (None, the first problem), checked in the order of
    `_validate_events`. Canonical: ids and text stripped (None when empty), `event_type` lower
    case, `occurred_at` as ISO-8601 UTC with a Z, numbers as numbers, `quantity` whole. Stricter
    than a file on JSON types only: an id or a text field must be a string or a whole number
    (`invalid_value`), an event an object (`invalid_event`)."""
    if not isinstance(record, dict):
        return None, EventProblem("event", "invalid_event", "an event is a JSON object")
    event: dict = {}
    for name in (*LIVE_ID_FIELDS, "user_id", "anonymous_id", *LIVE_TEXT_FIELDS):
        value, problem = _live_text(record.get(name), name)
        if problem:
            return None, problem
        event[name] = value
    for name in ("event_id", "user_id", "item_id"):
        if name == "user_id":
            if event["user_id"] is None and event["anonymous_id"] is None:
                return None, EventProblem("user_id", "missing_id",
                                          "user_id and anonymous_id are both empty")
        elif event[name] is None:
            return None, EventProblem(name, "missing_id", f"{name} is empty")
    event_type = record.get("event_type")
    event_type = str(event_type).strip().lower() if isinstance(event_type, str) else None
    if event_type not in EVENT_TYPES:
        shown = event_type or "<empty>"
        return None, EventProblem("event_type", "unknown_event_type",
                                  f"event_type {shown} is not one of {', '.join(EVENT_TYPES)}")
    event["event_type"] = event_type
    occurred_at, problem = _live_time(record.get("occurred_at"), now)
    if problem:
        return None, problem
    event["occurred_at"] = live_time_text(occurred_at)
    for name in LIVE_NUMBER_FIELDS:
        value = record.get(name)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            event[name] = None
            continue
        number = _live_number(value)
        if number is None:
            return None, EventProblem(name, "invalid_number",
                                      f"{name} '{str(value)[:40]}' is not a number")
        event[name] = number
    for name, reason in (("quantity", "negative_quantity"), ("price", "negative_price"),
                         ("dwell_seconds", "negative_quantity")):
        if event[name] is not None and event[name] < 0:
            return None, EventProblem(name, reason, f"{name} is below zero")
    if event["quantity"] is not None:
        event["quantity"] = int(round(event["quantity"]))
    return event, None


def check_live_events(records: list, now: datetime) -> tuple[list[dict], list[dict]]:
    """(accepted events, rejected: {"index", "event_id", "field", "reason", "detail"}): each
    event on its own, so a bad one never costs a good one its place; a repeated event_id within
    the batch is a `duplicate_event` after its first valid occurrence, as in a file."""
    accepted, rejected, seen = [], [], set()
    for index, record in enumerate(records):
        event, problem = check_live_event(record, now)
        if event is not None and event["event_id"] in seen:
            problem = EventProblem("event_id", "duplicate_event",
                                   f"event_id {event['event_id']} seen before")
        if problem is not None:
            raw_id = record.get("event_id") if isinstance(record, dict) else None
            rejected.append({"index": index,
                             "event_id": raw_id if isinstance(raw_id, str) else None,
                             "field": problem.field, "reason": problem.reason,
                             "detail": problem.detail})
            continue
        seen.add(event["event_id"])
        accepted.append(event)
    return accepted, rejected


def _live_text(value: object, name: str) -> tuple[str | None, EventProblem | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None, EventProblem(name, "invalid_value",
                                  f"{name} must be a string, got {type(value).__name__}")
    text = str(value).strip()
    return (text or None), None


def _live_number(value: object) -> float | None:
    """A number as `pd.to_numeric` reads it (true is 1), or None."""
    if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value.strip()):
        return None  # "1_000", other scripts' digits: Python reads them, pandas does not
    try:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if np.isfinite(number) else None


def _live_time(value: object, now: datetime) -> tuple[datetime | None, EventProblem | None]:
    """`_read_times` and `_checked_times` (required) for one value."""
    name = "occurred_at"
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None, EventProblem(name, "unparsable_timestamp", f"{name} is empty")
    shown = f"{name} '{str(value)[:40]}'"
    late = EventProblem(name, "future_timestamp",
                        f"{shown} is after the load time {now:%Y-%m-%dT%H:%M:%SZ}")
    number = None if isinstance(value, str) and not _looks_numeric(value) else _live_number(value)
    if isinstance(value, bool) or (not isinstance(value, str) and number is None):  # a bool is
        # no time for pandas either
        return None, EventProblem(name, "unparsable_timestamp",
                                  f"{shown} is not a time; accepted: {TIMESTAMP_FORMATS}")
    if number is not None:
        if abs(number) >= MAX_PLAUSIBLE_EPOCH_SECONDS:
            return None, EventProblem(name, "unparsable_timestamp",
                                      f"{shown} is too large for epoch seconds (milliseconds?); "
                                      f"accepted: {TIMESTAMP_FORMATS}")
        if number >= MAX_EPOCH_SECONDS:
            return None, late
        if number <= -MAX_EPOCH_SECONDS:
            return None, EventProblem(name, "unparsable_timestamp",
                                      f"{shown} is before 1677-09-22, the earliest time supported")
        moment = datetime(1970, 1, 1) + timedelta(seconds=number)
    else:
        text = value.strip()
        if _YEAR_MONTH.fullmatch(text):  # pandas reads 2026-11 as its first day
            text += "-01"
        try:
            # week dates, comma fractions, offsets with seconds: pandas refuses them
            if _NOT_PANDAS_ISO.search(text):
                raise ValueError(text)
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None, EventProblem(name, "unparsable_timestamp",
                                      f"{shown} is not a time; accepted: {TIMESTAMP_FORMATS}")
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        if moment > pd.Timestamp.max:
            return None, late
        if moment < pd.Timestamp.min:
            return None, EventProblem(name, "unparsable_timestamp",
                                      f"{shown} is before 1677-09-22, the earliest time supported")
    if moment > now + FUTURE_TOLERANCE:
        return None, late
    return moment, None


_YEAR_MONTH = re.compile(r"\d{4}-\d{2}")
_NOT_PANDAS_ISO = re.compile(r"^\d{4}-?W|\d,\d|[+-]\d{2}:?\d{2}:\d{2}")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)",
                           re.IGNORECASE | re.ASCII)


def _looks_numeric(text: str) -> bool:
    return bool(_PLAIN_NUMBER.fullmatch(text.strip()))
