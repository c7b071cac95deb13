"""`POST /events`: check each event, then make the valid ones durable.

Order matters for read-your-writes (serving/stream/profiles.py): the events go into their
profiles' inboxes first, then into the stream; only then does the service answer 2xx. If the
stream refuses them, they are taken out of the inboxes again and the request fails (503): a
client retries with the same event ids, and duplicates are applied once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ml.sources.contract import check_live_events, live_time_text
from serving.stream.base import EventStream
from serving.stream.profiles import ProfileStore


class StreamUnavailable(Exception):
    """The stream did not take the events: nothing was accepted."""


@dataclass(frozen=True)
class IntakeResult:
    accepted: list[str]
    rejected: list[dict]
    unknown_item_ids: list[str]


class EventIntake:
    def __init__(self, stream: EventStream, profiles: ProfileStore) -> None:
        self.stream = stream
        self.profiles = profiles

    def accept(self, records: list, known_item: Callable[[str], bool],
               now: datetime | None = None) -> IntakeResult:
        now = now or datetime.utcnow()
        events, rejected = check_live_events(records, now)
        unknown = []
        received = live_time_text(now)
        for event in events:
            event["known_item"] = known_item(event["item_id"])
            event["received_at"] = received
            if not event["known_item"] and event["item_id"] not in unknown:
                unknown.append(event["item_id"])
        if events:
            try:
                keys = self.profiles.add_to_inboxes(events)
            except Exception as error:
                raise StreamUnavailable(f"{type(error).__name__}: {error}") from error
            try:
                self.stream.publish(events)
            except Exception as error:
                try:
                    self.profiles.remove_from_inboxes(events, keys)
                except Exception:  # Redis is down: such a copy is never applied after
                    pass  # APPLIED_TTL_S (serving/stream/profiles.py), nor counted twice before
                raise StreamUnavailable(f"{type(error).__name__}: {error}") from error
        return IntakeResult([e["event_id"] for e in events], rejected, unknown)
