"""Whom an answer is for: the one place a request's ids become a `Visitor` (the model's user
index, their live rows, and whether the answer may be personal). The online profile is read here
(profile + inbox, serving/stream/profiles.py), consent is decided here (ml.consent.refusal), and
the visitor token of the security issue will be checked here.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from ml.consent import NO_CONSENT, refusal
from ml.experiments.assignment import Assignment
from ml.online.live import LiveEvents, UserRows
from ml.online.profile import Profile
from serving.logs import log_event
from serving.metrics import Counters
from serving.state import ModelState

LIVE_ROWS_KEPT = 10_000  # visitors whose composed live rows are kept (a few KB each)
CONTROL = "experiment_control"  # the fallback reason of an experiment's non-personalized arm


@dataclass(frozen=True)
class Visitor:
    """Whom an answer is for, as the serving model sees them."""

    user: int  # the model's index of the customer; -1 when it does not know them
    live: UserRows | None  # their rows with their live events (None: the model's rows as they are)
    fallback: str | None  # why the answer is not personal (ml.consent.refusal); None: it is

    @property
    def personal(self) -> bool:
        return self.fallback is None

    def rows(self, state: ModelState) -> UserRows:
        return self.live if self.live is not None else state.scorer.users.rows(self.user)


ANYONE = Visitor(-1, None, None)  # a request that names nobody (cross_sell of a cart alone)


class Visitors:
    """Profiles read, and requests resolved into `Visitor`s, for one engine."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        # (rules, [(user_id, anonymous_id)]) -> [Profile | None]: the online profiles
        # (serving/stream/profiles.py ProfileStore.current_many); None without an event stream
        self.profiles = None
        self._failure_logged = 0.0
        # A visitor's live rows per profile stamp: the pages of one visit (homepage, recommend
        # on several placements, cross_sell) rank from the same rows until the next event.
        self._live_rows: OrderedDict[tuple, UserRows] = OrderedDict()

    def forget(self) -> None:
        """Drop the live rows composed under the previous model (on every swap)."""
        self._live_rows.clear()

    def read(self, state: ModelState, ids: list[tuple[str | None, str | None]]
             ) -> list[Profile | None]:
        """The online profile of each (user_id, anonymous_id), every accepted event in it; all
        None without an event stream, or while it cannot be read (answers then come from the
        model alone: counted, and logged once a minute)."""
        if self.profiles is None:
            return [None] * len(ids)
        try:
            found = self.profiles(state.profile_rules, ids)
        except Exception as exc:
            self.counters("profile_reads", outcome="failed").inc(len(ids))
            if time.monotonic() - self._failure_logged > 60:
                self._failure_logged = time.monotonic()
                log_event("profile_read_failed", error=type(exc).__name__, level=logging.WARNING)
            return [None] * len(ids)
        for profile in found:
            self.counters("profile_reads", outcome="none" if profile is None else "found").inc()
        return found

    def read_one(self, state: ModelState, user_id: str | None, anonymous_id: str | None
                 ) -> Profile | None:
        return self.read(state, [(user_id, anonymous_id)])[0]

    def resolve(self, state: ModelState, user_id: str | None, anonymous_id: str | None,
                profile: Profile | None, assignment: Assignment | None = None) -> Visitor:
        """Whom to answer for, and whether personally (ml.consent.refusal: the one decision). A
        customer the model knows with a history, or anyone with live events the model has not
        seen, gets a personal answer, from the model's rows plus those events; an experiment's
        trending arm gets what an unknown visitor gets, through the same code."""
        user_id = customer_of(user_id, profile)
        events = state.live_events(profile)
        user = state.bundle.model.index.user_index.get(user_id, -1) if user_id else -1
        known = user_id is not None and state.user(user_id) is not None
        refused = refusal(state.consent, user_id or anonymous_id,
                          known=known or events is not None)
        if refused != NO_CONSENT and assignment is not None and assignment.serves == "trending":
            return Visitor(user, None, CONTROL)
        if refused is not None:
            return Visitor(user, None, refused)
        if events is None:
            return Visitor(user, None, None)
        return Visitor(user, self._composed(state, user, profile, events), None)

    def _composed(self, state: ModelState, user: int, profile: Profile,
                  events: LiveEvents) -> UserRows:
        """The model's rows of `user` (-1: none) plus the profile's live `events`, kept per
        profile stamp (LIVE_ROWS_KEPT of them)."""
        key = (state.version, user, *stamp(profile))
        rows = self._live_rows.get(key)
        if rows is None:
            base = state.scorer.users.rows(user) if user >= 0 else state.live.empty()
            rows = self._live_rows[key] = state.live.compose(base, events)
            if len(self._live_rows) > LIVE_ROWS_KEPT:
                self._live_rows.popitem(last=False)
        else:
            self._live_rows.move_to_end(key)
        return rows


def customer_of(user_id: str | None, profile: Profile | None) -> str | None:
    """The customer a request is for: its user_id, else the one an anonymous visitor was
    stitched to (their profile is the customer's)."""
    if user_id is None and profile is not None and profile.key.startswith("user:"):
        return profile.key[5:]
    return user_id


def stamp(profile: Profile | None) -> tuple | None:
    """What changes with every event a profile takes in: part of each answer's cache key, so a
    cached answer never hides a newer event."""
    return None if profile is None else (profile.key, profile.events, profile.last_at)
