"""Online profiles in Redis: the stream workers apply events to them, the service reads them.

Keys (ids are the contract's pseudonymous ids, never personal data):

    tailor:profile:user:<user_id> / tailor:profile:anon:<anonymous_id>   the profile (JSON)
    tailor:applied:<event_id>    set when the event was applied (idempotency), kept APPLIED_TTL_S
    tailor:stitch:<anonymous_id> the customer a visitor turned out to be
    tailor:inbox:<profile key>   events accepted by the service, not yet applied (a list)

Read-your-writes: `POST /events` pushes each event to its profile's inbox *before* publishing it
to the stream, so no worker can apply an event that is not in an inbox yet; a worker writes the
profile, the event's applied marker and the inbox removal in one MULTI/EXEC. So at every moment
each accepted event is either applied in its profile or waiting in the inbox, never both, and
`current()` (profile + inbox, one round trip) reflects every event that got a 2xx.

Concurrency: several workers may update one profile; each batch WATCHes the keys it read and is
retried when another worker wrote them first (optimistic locking).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from ml.online.profile import Profile, merge, profile_key
from ml.online.profile_rules import ProfileRules
from ml.sources.contract import parse_live_time
from serving.stream.redis_stream import encode

PROFILE = "tailor:profile:"
APPLIED = "tailor:applied:"
STITCH = "tailor:stitch:"
INBOX = "tailor:inbox:"
APPLIED_TTL_S = 7 * 86_400  # longer than any redelivery: a claim comes within minutes
INBOX_LIMIT = 1_000  # per visitor; older waiting events are still in the stream
INBOX_TTL_S = 86_400
MAX_RETRIES = 50


@dataclass(frozen=True)
class Applied:
    applied: int  # events that changed a profile
    repeated: int  # events applied before (redelivered, or posted twice): skipped


class ProfileStore:
    """Profiles, applied markers, stitches and inboxes in one Redis. The rules (categories,
    weights, half-life) come with each call: they belong to the model serving now."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    # -- the service's side ------------------------------------------------------------------------

    def add_to_inboxes(self, events: list[dict]) -> list[str]:
        """Each event into the inbox of the profile it will change (before it is published);
        returns those profile keys, for `remove_from_inboxes`."""
        keys = self._intake_keys(events)
        pipe = self.client.pipeline(transaction=True)
        for key, event in zip(keys, events, strict=True):
            pipe.rpush(INBOX + key, encode(event))
        for key in set(keys):
            pipe.ltrim(INBOX + key, -INBOX_LIMIT, -1)
            pipe.expire(INBOX + key, INBOX_TTL_S)
        pipe.execute()
        return keys

    def remove_from_inboxes(self, events: list[dict], keys: list[str]) -> None:
        """Undo `add_to_inboxes` (which returned `keys`) for events that were not published."""
        pipe = self.client.pipeline(transaction=True)
        for key, event in zip(keys, events, strict=True):
            pipe.lrem(INBOX + key, 0, encode(event))
        pipe.execute()

    def current(self, rules: ProfileRules, user_id: str | None, anonymous_id: str | None = None
                ) -> Profile | None:
        """The profile of a customer (or, without one, a visitor) with every accepted event in
        it, applied or not yet; None when there is none."""
        return self.current_many(rules, [(user_id, anonymous_id)])[0]

    def current_many(self, rules: ProfileRules,
                     visitors: list[tuple[str | None, str | None]]) -> list[Profile | None]:
        """`current` for each (user_id, anonymous_id), in one round trip when no inbox holds
        an event (a second one for visitors stitched to a customer). Profile, inbox and applied
        markers are read as one snapshot: a worker's commit in between would otherwise hide an
        event (read from the inbox, then found applied) or count it twice."""
        keys: list[str | None] = [f"user:{u}" if u else f"anon:{a}" if a else None
                                  for u, a in visitors]
        read = self._read(sorted({k for k in keys if k}))
        # an anonymous visitor may have become a customer: then the customer's profile is theirs
        stitched = {k: f"user:{read[k][2]}" for k in read if k.startswith("anon:") and read[k][2]}
        if stitched:
            read.update(self._read(sorted(set(stitched.values()) - set(read))))
            keys = [stitched.get(k, k) for k in keys]
        profiles: dict[str, Profile | None] = {}
        for key, (text, waiting, _) in read.items():
            done: list = []
            if waiting:  # the markers belong to the same snapshot: read them all under WATCH
                text, waiting, done = self._snapshot(key)
            profile = Profile.from_json(text, key)
            if waiting:
                profile = self._with_waiting(profile, waiting, done, rules)
            profiles[key] = profile if profile.events else None
        return [profiles.get(k) if k else None for k in keys]

    def _read(self, keys: list[str]) -> dict[str, tuple[str | None, list[str], str | None]]:
        """Per profile key: (profile, inbox, the customer a visitor was stitched to), one MULTI."""
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=True)  # MULTI: one snapshot, one round trip
        for key in keys:
            pipe.get(PROFILE + key)
            pipe.lrange(INBOX + key, 0, -1)
            if key.startswith("anon:"):
                pipe.get(STITCH + key[5:])
        values = iter(pipe.execute())
        return {key: (next(values), next(values),
                      next(values) if key.startswith("anon:") else None) for key in keys}

    def _snapshot(self, key: str) -> tuple[str | None, list[str], list]:
        for _ in range(MAX_RETRIES):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(PROFILE + key, INBOX + key)
                    text = pipe.get(PROFILE + key)
                    waiting = pipe.lrange(INBOX + key, 0, -1)
                    ids = [json.loads(w)["event_id"] for w in waiting]
                    done = pipe.mget([APPLIED + i for i in ids]) if ids else []
                    pipe.multi()
                    pipe.execute()  # refused if a worker changed the profile or the inbox
                    return text, waiting, done
                except redis.WatchError:
                    continue
        raise RuntimeError(f"profiles: {MAX_RETRIES} concurrent updates while reading {key}")

    # -- the workers' side -------------------------------------------------------------------------

    def apply(self, events: list[dict], rules: ProfileRules) -> Applied:
        """Apply events once each (by event_id), atomically per batch."""
        for _ in range(MAX_RETRIES):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    return self._apply_watched(pipe, events, rules)
                except redis.WatchError:
                    continue  # another worker changed a profile we read: read again
        raise RuntimeError(f"profiles: {MAX_RETRIES} conflicting updates in a row")

    def _apply_watched(self, pipe, events: list[dict], rules: ProfileRules) -> Applied:
        ids = [e["event_id"] for e in events]
        visitors = sorted({e["anonymous_id"] for e in events if e.get("anonymous_id")})
        # The profiles known before the stitches are read (customers', visitors' own), watched
        # and read in the same two round trips as the markers and stitches.
        guessed = sorted({f"user:{e['user_id']}" for e in events if e.get("user_id")}
                         | {f"anon:{v}" for v in visitors})
        watched = ([APPLIED + i for i in ids] + [STITCH + v for v in visitors]
                   + [PROFILE + k for k in guessed])
        pipe.watch(*watched)
        values = pipe.mget(watched)
        done = values[:len(ids)]
        stitched = dict(zip(visitors, values[len(ids):len(ids) + len(visitors)], strict=True))
        texts = dict(zip(guessed, values[len(ids) + len(visitors):], strict=True))
        keys = sorted({_target(e, stitched) for e in events}
                      | {f"anon:{v}" for v in visitors if not stitched[v]})
        later = [k for k in keys if k not in texts]  # customers of stitched visitors
        if later:
            pipe.watch(*(PROFILE + k for k in later))
            texts.update(zip(later, pipe.mget([PROFILE + k for k in later]), strict=True))
        profiles = {k: Profile.from_json(texts[k], k) for k in keys}
        merged, seen, applied = set(), set(), 0
        for event, marker in zip(events, done, strict=True):
            if marker is not None or event["event_id"] in seen:
                continue
            seen.add(event["event_id"])
            visitor = event.get("anonymous_id")
            if event.get("user_id") and visitor and not stitched[visitor]:
                key = f"user:{event['user_id']}"  # this visitor is this customer from now on
                profiles[key] = merge(profiles[key], profiles[f"anon:{visitor}"],
                                      rules.half_life_s)
                stitched[visitor] = event["user_id"]
                merged.add(visitor)
            key = _target(event, stitched)
            profiles[key] = rules.apply(profiles[key], event)
            applied += 1
        pipe.multi()
        for key, profile in profiles.items():
            if profile.events and not (key.startswith("anon:") and key[5:] in merged):
                pipe.set(PROFILE + key, profile.to_json())
        for visitor in merged:
            pipe.set(STITCH + visitor, stitched[visitor])
            pipe.delete(PROFILE + f"anon:{visitor}")
        for event_id in seen:
            pipe.set(APPLIED + event_id, 1, ex=APPLIED_TTL_S)
        for event in events:  # applied now or before: out of every inbox it may be in
            for key in _inbox_keys(event, stitched):
                pipe.lrem(INBOX + key, 0, encode(event))  # every copy: identical = same event
        pipe.execute()
        return Applied(applied, len(events) - applied)

    # -- helpers -----------------------------------------------------------------------------------

    def _intake_keys(self, events: list[dict]) -> list[str]:
        visitors = sorted({e["anonymous_id"] for e in events if not e.get("user_id")})
        stitched = dict(zip(visitors, self.client.mget([STITCH + v for v in visitors])
                            if visitors else [], strict=True))
        return [_target(e, stitched) for e in events]

    @staticmethod
    def _with_waiting(profile: Profile, waiting: list[str], done: list, rules: ProfileRules
                      ) -> Profile:
        """`profile` with the inbox's events applied: each once (a client may post an event
        twice), none a worker applied already (`done`: its marker), and none older than the
        markers live (a copy a failed request left behind, APPLIED_TTL_S on)."""
        oldest = datetime.utcnow() - timedelta(seconds=APPLIED_TTL_S)
        seen = set()
        for text, marker in zip(waiting, done, strict=True):
            event = json.loads(text)
            if marker is not None or event["event_id"] in seen:
                continue
            received = event.get("received_at")
            if received and parse_live_time(received) < oldest:
                continue
            seen.add(event["event_id"])
            profile = rules.apply(profile, event)
        return profile


def _target(event: dict, stitched: dict[str, str | None]) -> str:
    """The profile an event changes: the customer's, or its visitor's customer once stitched."""
    if not event.get("user_id"):
        customer = stitched.get(event["anonymous_id"])
        if customer:
            return f"user:{customer}"
    return profile_key(event)


def _inbox_keys(event: dict, stitched: dict[str, str | None] | None) -> set[str]:
    keys = {profile_key(event)}
    visitor = event.get("anonymous_id")
    if visitor:
        keys.add(f"anon:{visitor}")
        if stitched and stitched.get(visitor):
            keys.add(f"user:{stitched[visitor]}")
    return keys
