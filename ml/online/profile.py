"""A visitor's online profile and how one event changes it: pure functions, no I/O.

A profile belongs to a customer (`user:<user_id>`) or an anonymous visitor (`anon:<anonymous_id>`),
both pseudonymous ids. It holds what the batch model cannot know yet:

- `recent`: the latest RECENT_LIMIT interactions (time, item, event type, category, quantity,
  price), by time: what serving adds to the model's history (`ml.online.live`);
- `affinity`: per category, the event-type weights (dbt seed `event_type_weights`, never below 0)
  decayed with the model's half-life (dbt's `decay_half_life_days`, in the model card) to
  `affinity_at`, the latest event's time: sum of w * 2^(-(affinity_at - t) / half_life);
- `session`: the current session (the one of the latest event: its session_id, else a gap of
  more than VISIT_GAP_SECONDS starts a new one), its start, end, event count and items;
- `counts` per event type, `events` applied, first and last event time, unknown items seen.

`apply_event` gives the same counts, affinity and `recent` whatever order a set of events arrives
in (at-least-once delivery reorders them): affinity decays to the latest time whichever event came
last, `recent` is kept sorted by time. The current session is the latest event's: events with a
session_id give the same one in any order; without ids (sessions cut by the visit gap), an older
event arriving after a newer one can leave the current session shorter. Idempotency
(an event applied once however often it is delivered) is the caller's: the stream worker records
each event_id it applied in the same transaction as the profile.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from ml.evaluation.protocols import VISIT_GAP_SECONDS
from ml.sources.contract import parse_live_time

RECENT_LIMIT = 50  # interactions kept per profile
SESSION_ITEMS_LIMIT = 50  # distinct items kept per session
PROFILE_FORMAT = 2  # 2: recent entries carry quantity and price
# Events that say something about taste (exposures do not).
INTERACTIONS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase", "return")


def profile_key(event: dict) -> str:
    """Whose profile an event changes: the customer's when it names one, else the visitor's."""
    if event.get("user_id"):
        return f"user:{event['user_id']}"
    return f"anon:{event['anonymous_id']}"


def event_time(event: dict) -> float:
    """occurred_at (canonical ISO-8601 UTC, `ml.sources.contract.check_live_event`) in seconds."""
    return (parse_live_time(event["occurred_at"]) - _EPOCH).total_seconds()


_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Profile:
    key: str
    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    first_at: float | None = None
    last_at: float | None = None
    # (time, item, event type, category or None, quantity or None, price or None), by time
    recent: tuple[tuple, ...] = ()
    affinity: dict[str, float] = field(default_factory=dict)
    affinity_at: float | None = None
    # {"id", "started_at", "last_at", "events", "items": [[first seen, item], ...] by time}
    session: dict | None = None
    unknown_items: int = 0
    stitched: tuple[str, ...] = ()  # anonymous visitors merged into this customer

    def to_json(self) -> str:
        # the fields themselves (JSON writes tuples as lists): dataclasses.asdict's deep copy
        # was most of a stream worker's time
        values = {name: getattr(self, name) for name in _FIELDS}
        values["format"] = PROFILE_FORMAT
        return json.dumps(values, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None, key: str) -> Profile:
        if not text:
            return cls(key)
        values = json.loads(text)
        old = values.pop("format", 1) < 2
        # format 1 entries had no quantity and price: unknown, as for an event without them
        values["recent"] = tuple((*r, None, None) if old else tuple(r) for r in values["recent"])
        values["stitched"] = tuple(values["stitched"])
        return cls(**values)

    def affinity_now(self, now: float, half_life_s: float) -> dict[str, float]:
        """The category affinities decayed from `affinity_at` to `now`."""
        if self.affinity_at is None:
            return {}
        factor = _decay(max(now - self.affinity_at, 0.0), half_life_s)
        return {c: v * factor for c, v in self.affinity.items()}

    def session_items(self) -> list[str]:
        """The current session's distinct items, in the order they were first seen."""
        return [item for _, item in self.session["items"]] if self.session else []

    def recent_items(self, limit: int = RECENT_LIMIT) -> list[str]:
        """Distinct items of the latest interactions, the most recent first."""
        seen: dict[str, None] = {}
        for entry in reversed(self.recent):
            item = entry[1]
            if item not in seen:
                seen[item] = None
                if len(seen) == limit:
                    break
        return list(seen)


_FIELDS = tuple(f.name for f in fields(Profile))


def apply_event(profile: Profile, event: dict, category: str | None, weights: dict[str, float],
                half_life_s: float) -> Profile:
    """`profile` after `event` (a canonical event, `ml.sources.contract.check_live_event`).
    `category`: the item's category in the serving model's catalog, None for an unknown item;
    `weights`: per event type (dbt's seed); `half_life_s`: the decay's half-life in seconds."""
    at = event_time(event)
    kind = event["event_type"]
    counts = {**profile.counts, kind: profile.counts.get(kind, 0) + 1}
    changes: dict = {
        "events": profile.events + 1,
        "counts": counts,
        "first_at": at if profile.first_at is None else min(profile.first_at, at),
        "last_at": at if profile.last_at is None else max(profile.last_at, at),
        "unknown_items": profile.unknown_items + (category is None),
    }
    if kind in INTERACTIONS:
        entry = (at, event["item_id"], kind, category, event.get("quantity"), event.get("price"))
        recent = sorted((*profile.recent, entry), key=lambda r: (r[0], r[1], r[2]))
        changes["recent"] = tuple(recent[-RECENT_LIMIT:])
        changes["session"] = _session(profile.session, event, at)
        weight = max(float(weights.get(kind, 0.0)), 0.0)
        if category is not None and weight > 0:
            changes["affinity"], changes["affinity_at"] = _add_affinity(
                profile.affinity, profile.affinity_at, category, weight, at, half_life_s)
    return replace(profile, **changes)


def merge(customer: Profile, visitor: Profile, half_life_s: float) -> Profile:
    """A visitor's profile folded into the customer's, when an event names both ids (stitching):
    the result is what applying both profiles' events to one profile would give."""
    if visitor.events == 0 or visitor.key in customer.stitched:
        return customer
    affinity, affinity_at = dict(customer.affinity), customer.affinity_at
    for category, value in visitor.affinity.items():
        affinity, affinity_at = _add_affinity(affinity, affinity_at, category, value,
                                              visitor.affinity_at, half_life_s)
    counts = dict(customer.counts)
    for kind, n in visitor.counts.items():
        counts[kind] = counts.get(kind, 0) + n
    recent = sorted((*customer.recent, *visitor.recent), key=lambda r: (r[0], r[1], r[2]))
    sessions = [s for s in (customer.session, visitor.session) if s is not None]
    return replace(
        customer,
        events=customer.events + visitor.events,
        counts=counts,
        first_at=min(t for t in (customer.first_at, visitor.first_at) if t is not None),
        last_at=max(t for t in (customer.last_at, visitor.last_at) if t is not None),
        recent=tuple(recent[-RECENT_LIMIT:]),
        affinity=affinity,
        affinity_at=affinity_at,
        session=max(sessions, key=lambda s: s["last_at"]) if sessions else None,
        unknown_items=customer.unknown_items + visitor.unknown_items,
        stitched=(*customer.stitched, visitor.key),
    )


def _decay(age_s: float, half_life_s: float) -> float:
    return math.exp(-math.log(2) * age_s / half_life_s)


def _add_affinity(affinity: dict[str, float], affinity_at: float | None, category: str,
                  weight: float, at: float, half_life_s: float
                  ) -> tuple[dict[str, float], float]:
    """`weight` at time `at` added to affinities held as of `affinity_at`: all of them decay to
    the later of the two times."""
    if affinity_at is None:
        return {category: weight}, at
    if at > affinity_at:
        factor = _decay(at - affinity_at, half_life_s)
        affinity = {c: v * factor for c, v in affinity.items()}
        affinity_at = at
    else:
        weight *= _decay(affinity_at - at, half_life_s)
        affinity = dict(affinity)
    affinity[category] = affinity.get(category, 0.0) + weight
    return affinity, affinity_at


def _session(session: dict | None, event: dict, at: float) -> dict:
    """The current session after an interaction at `at`: the one of the latest event."""
    session_id = event.get("session_id")
    item = event["item_id"]
    if session is not None and _same_session(session, session_id, at):
        first = {i: t for t, i in session["items"]}
        first[item] = min(first.get(item, at), at)
        items = sorted([t, i] for i, t in first.items())[-SESSION_ITEMS_LIMIT:]
        return {**session, "started_at": min(session["started_at"], at),
                "last_at": max(session["last_at"], at), "events": session["events"] + 1,
                "items": items}
    if session is not None and at < session["last_at"]:
        return session  # an older event of an earlier session: the current one stays
    return {"id": session_id, "started_at": at, "last_at": at, "events": 1, "items": [[at, item]]}


def _same_session(session: dict, session_id: str | None, at: float) -> bool:
    if session_id is not None or session["id"] is not None:
        return session_id == session["id"]
    return session["started_at"] - VISIT_GAP_SECONDS <= at <= session["last_at"] + \
        VISIT_GAP_SECONDS
