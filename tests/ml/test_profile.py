"""ml.online.profile: how one event changes a visitor's profile (pure functions)."""

from __future__ import annotations

import itertools
import math

import pytest

from ml.online.profile import Profile, apply_event, merge, profile_key

WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "remove_from_cart": -1.0,
           "impression": 0.0}
DAY = 86_400.0
CATEGORY = {"shoe-1": "shoes", "shoe-2": "shoes", "hat-1": "hats"}


def event(event_id, item, kind="view", at="2026-11-30T12:00:00.000000Z", session="s1",
          user="u1", anonymous=None):
    return {"event_id": event_id, "user_id": user, "anonymous_id": anonymous,
            "session_id": session, "item_id": item, "event_type": kind, "occurred_at": at}


def applied(events, profile=None):
    profile = profile or Profile(profile_key(events[0]))
    for e in events:
        profile = apply_event(profile, e, CATEGORY.get(e["item_id"]), WEIGHTS, 10 * DAY)
    return profile


def test_affinity_is_the_decayed_sum_of_weights_at_the_latest_event():
    profile = applied([event("a", "shoe-1", at="2026-11-20T12:00:00Z"),
                       event("b", "hat-1", "purchase", at="2026-11-30T12:00:00Z")])
    assert profile.affinity["shoes"] == pytest.approx(0.5)  # one view, one half-life old
    assert profile.affinity["hats"] == pytest.approx(5.0)
    assert profile.affinity_now(profile.affinity_at + 10 * DAY, 10 * DAY)["hats"] == \
        pytest.approx(2.5)
    assert profile.counts == {"view": 1, "purchase": 1} and profile.events == 2


def test_any_arrival_order_gives_the_same_profile():
    events = [event("a", "shoe-1", at="2026-11-29T10:00:00Z"),
              event("b", "shoe-2", "add_to_cart", at="2026-11-29T10:05:00Z"),
              event("c", "hat-1", at="2026-11-30T09:00:00Z", session="s2"),
              event("d", "unknown-9", at="2026-11-30T09:01:00Z", session="s2")]
    first = applied(events)
    for order in itertools.permutations(events):
        again = applied(list(order))
        assert again.recent == first.recent and again.counts == first.counts
        assert again.session == first.session and again.unknown_items == 1
        assert all(math.isclose(again.affinity[c], v) for c, v in first.affinity.items())
    assert first.session["id"] == "s2" and first.session_items() == ["hat-1", "unknown-9"]
    assert first.recent_items() == ["unknown-9", "hat-1", "shoe-2", "shoe-1"]


def test_exposures_count_but_say_nothing_about_taste_and_negatives_never_add():
    profile = applied([event("a", "shoe-1", "impression"), event("b", "hat-1", "remove_from_cart")])
    assert profile.counts == {"impression": 1, "remove_from_cart": 1}
    assert profile.affinity == {} and [r[1] for r in profile.recent] == ["hat-1"]


def test_sessions_split_on_the_visit_gap_when_events_carry_no_session_id():
    profile = applied([event("a", "shoe-1", at="2026-11-30T10:00:00Z", session=None),
                       event("b", "hat-1", at="2026-11-30T10:20:00Z", session=None)])
    assert profile.session["events"] == 2
    later = applied([event("c", "shoe-2", at="2026-11-30T11:00:00Z", session=None)], profile)
    assert later.session["events"] == 1 and later.session_items() == ["shoe-2"]


def test_merging_a_visitor_equals_applying_its_events_to_the_customer():
    mine = [event("a", "shoe-1", at="2026-11-28T10:00:00Z")]
    theirs = [event("b", "hat-1", "add_to_cart", at="2026-11-29T10:00:00Z", user=None,
                    anonymous="v1", session="s9")]
    merged = merge(applied(mine), applied(theirs), 10 * DAY)
    direct = applied(mine + [{**theirs[0], "user_id": "u1"}])
    assert merged.recent == direct.recent and merged.counts == direct.counts
    assert merged.affinity == pytest.approx(direct.affinity)
    assert merged.stitched == ("anon:v1",)
    assert merge(merged, applied(theirs), 10 * DAY) == merged  # once only


def test_a_profile_survives_its_json():
    profile = applied([event("a", "shoe-1"), event("b", "hat-1", "purchase")])
    assert Profile.from_json(profile.to_json(), profile.key) == profile
    assert Profile.from_json(None, "user:x") == Profile("user:x")
