"""Events the service accepted (`POST /events`, then the event stream) onto the data contract.

An event of an anonymous visitor only (no user_id) becomes a guest's event (`GUEST_PREFIX` +
anonymous_id): it counts for item popularity and co-purchase, never as a customer (a later stitch
to a customer is the online profile's, not the warehouse history's). The stream's own fields
(known_item, received_at) are dropped: the catalog decides about items at the next load.
Redelivered entries (an event_id seen earlier in the batch or already stored) are counted, not
quarantined: at-least-once delivery repeats them, no one sent bad data.

Exposures (entries with event_type "exposure", serving/stream/exposures.py) are no events of the
contract: `stream_source` sets them apart, onto ml.schema.EXPOSURE_COLUMNS (raw.exposures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from ml.schema import EVENT_COLUMNS, EXPOSURE_COLUMNS, GUEST_PREFIX, QUARANTINE_COLUMNS
from ml.sources.contract import RawSource

EXPOSURE = "exposure"  # serving.stream.exposures.EXPOSURE (ml does not import serving)
EXPOSURE_REQUIRED = ("event_id", "experiment", "unit", "request_id", "occurred_at")


@dataclass(frozen=True)
class StreamBatch:
    raw: RawSource
    repeated: int  # entries whose event_id came before: left out
    exposures: pd.DataFrame  # EXPOSURE_COLUMNS, those not stored before
    bad_exposures: pd.DataFrame  # QUARANTINE_COLUMNS: exposures missing a field, or unparsable


def stream_source(events: list[dict], stored_ids: set[str],
                  stored_exposures: set[str] = frozenset()) -> StreamBatch:
    exposures, bad = exposure_frame([e for e in events if e.get("event_type") == EXPOSURE],
                                    stored_exposures)
    events = [e for e in events if e.get("event_type") != EXPOSURE]
    frame = pd.DataFrame(events, columns=[*EVENT_COLUMNS, "anonymous_id"], dtype=object)
    guest = frame["user_id"].isna() & frame["anonymous_id"].notna()
    frame.loc[guest, "user_id"] = GUEST_PREFIX + frame.loc[guest, "anonymous_id"].astype(str)
    again = frame["event_id"].duplicated() | frame["event_id"].isin(stored_ids)
    kept = frame.loc[~again, list(EVENT_COLUMNS)].reset_index(drop=True)
    return StreamBatch(RawSource("stream", kept), int(again.sum()), exposures, bad)


def exposure_frame(records: list[dict], stored: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exposures onto EXPOSURE_COLUMNS, each once (by event_id); those missing a required field
    or with an unparsable time are returned apart, with what is wrong."""
    rows, bad, seen = [], [], set(stored)
    for record in records:
        missing = [f for f in EXPOSURE_REQUIRED if not record.get(f)]
        at = pd.to_datetime(record.get("occurred_at"), errors="coerce", utc=True)
        if missing or pd.isna(at):
            reason, detail = (("missing_id", f"exposure: missing {', '.join(missing)}") if missing
                              else ("unparsable_timestamp", f"exposure: occurred_at "
                                    f"{record.get('occurred_at')!r} is no time"))
            bad.append({"table_name": "exposures", "row_number": len(rows) + len(bad),
                        "reason": reason, "detail": detail,
                        "record": json.dumps(record, default=str, sort_keys=True)})
            continue
        if record["event_id"] in seen:
            continue
        seen.add(record["event_id"])
        row = {c: record.get(c) for c in EXPOSURE_COLUMNS}
        row["occurred_at"] = at.tz_localize(None)
        if not row["user_id"] and row["anonymous_id"]:
            row["user_id"] = GUEST_PREFIX + str(row["anonymous_id"])
        row["item_ids"] = json.dumps(list(record.get("item_ids") or []))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(EXPOSURE_COLUMNS))
    quarantine = pd.DataFrame(bad, columns=list(QUARANTINE_COLUMNS))
    return frame.astype(EXPOSURE_COLUMNS), quarantine.astype(QUARANTINE_COLUMNS)
