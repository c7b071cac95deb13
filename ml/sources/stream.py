"""Events the service accepted (`POST /events`, then the event stream) onto the data contract.

An event of an anonymous visitor only (no user_id) becomes a guest's event (`GUEST_PREFIX` +
anonymous_id): it counts for item popularity and co-purchase, never as a customer (a later stitch
to a customer is the online profile's, not the warehouse history's). The stream's own fields
(known_item, received_at) are dropped: the catalog decides about items at the next load.
Redelivered entries (an event_id seen earlier in the batch or already stored) are counted, not
quarantined: at-least-once delivery repeats them, no one sent bad data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ml.schema import EVENT_COLUMNS, GUEST_PREFIX
from ml.sources.contract import RawSource


@dataclass(frozen=True)
class StreamBatch:
    raw: RawSource
    repeated: int  # entries whose event_id came before: left out


def stream_source(events: list[dict], stored_ids: set[str]) -> StreamBatch:
    frame = pd.DataFrame(events, columns=[*EVENT_COLUMNS, "anonymous_id"], dtype=object)
    guest = frame["user_id"].isna() & frame["anonymous_id"].notna()
    frame.loc[guest, "user_id"] = GUEST_PREFIX + frame.loc[guest, "anonymous_id"].astype(str)
    again = frame["event_id"].duplicated() | frame["event_id"].isin(stored_ids)
    kept = frame.loc[~again, list(EVENT_COLUMNS)].reset_index(drop=True)
    return StreamBatch(RawSource("stream", kept), int(again.sum()))
