"""The evaluation protocols on a tiny log whose answers are known, and the rule that picks one."""

import numpy as np
import pytest

from ml.data import Windows
from ml.evaluation.protocols import (
    calendar_split,
    choose_protocol,
    last_basket_split,
    per_user_labels,
)
from tests.builders import tiny_shop

DAY = 86_400.0
# alice: three baskets (days 1, 5, 9) after a view; bob: one basket (day 3) after a view;
# carol: views only; a guest's two baskets. Items i0 .. i5.
ROWS = [
    ("alice", 5, "view", 0, None),
    ("alice", 0, "purchase", 1, "a1"), ("alice", 1, "purchase", 1, "a1"),
    ("alice", 2, "purchase", 5, "a2"),
    ("alice", 3, "purchase", 9, "a3"), ("alice", 4, "purchase", 9, "a3"),
    ("alice", 2, "view", 9.5, None),
    ("bob", 1, "view", 2, None), ("bob", 0, "purchase", 3, "b1"),
    ("carol", 2, "view", 4, None),
    ("guest-1", 0, "purchase", 2, "g1"), ("guest-1", 3, "purchase", 8, "g2"),
]


@pytest.fixture(scope="module")
def shop():
    catalog, log = tiny_shop(ROWS, 6)
    start = float(log.time.min())  # day 0
    windows = Windows(validation_start=start + 4 * DAY, test_start=start + 7 * DAY,
                      as_of=start + 10 * DAY)
    users = {u: i for i, u in enumerate(log.user_ids.tolist())}
    return catalog, log, windows, users, start


def visible_rows(log, split, start):
    """(user, item, day) of the visible events."""
    return {(log.user_ids[u], int(i), round((t - start) / DAY, 1))
            for u, i, t in zip(log.user[split.visible], log.item[split.visible],
                               log.time[split.visible], strict=True)}


def test_last_basket_test_holds_out_each_customer_s_last_basket(shop):
    _, log, windows, users, start = shop
    split = last_basket_split(log, windows, "test")
    assert split.truth == {users["alice"]: {3, 4}, users["bob"]: {0}}  # no guest, no carol
    seen = visible_rows(log, split, start)
    assert ("alice", 2, 5.0) in seen and ("alice", 3, 9.0) not in seen
    assert ("alice", 2, 9.5) not in seen  # after the held-out basket: hidden too
    assert ("bob", 1, 2.0) in seen and ("bob", 0, 3.0) not in seen  # bob: judged on his view
    assert ("guest-1", 3, 8.0) in seen and ("carol", 2, 4.0) in seen
    assert split.user_cutoffs[users["alice"]] == start + 9 * DAY


def test_last_basket_validation_targets_the_basket_before(shop):
    _, log, windows, users, start = shop
    split = last_basket_split(log, windows, "validation")
    assert split.truth == {users["alice"]: {2}}  # bob has no basket before his last
    seen = visible_rows(log, split, start)
    assert {("alice", 5, 0.0), ("alice", 0, 1.0), ("alice", 1, 1.0)} <= seen
    assert not any(user == "alice" and day >= 5 for user, _, day in seen)
    assert not any(user == "bob" and day >= 3 for user, _, day in seen)


def test_calendar_split_is_one_cutoff_for_everyone(shop):
    _, log, windows, users, start = shop
    split = calendar_split(log, windows, "test")  # days 7 .. 10
    assert split.truth == {users["alice"]: {3, 4}}  # the guest's day-8 basket is no target
    assert max(day for _, _, day in visible_rows(log, split, start)) < 7
    assert split.user_cutoffs is None and split.cutoff == windows.test_start
    validation = calendar_split(log, windows, "validation")  # days 4 .. 7
    assert validation.truth == {users["alice"]: {2}}


def test_per_user_labels_take_each_user_s_last_visible_basket(shop):
    _, log, windows, users, start = shop
    labels = per_user_labels(log, last_basket_split(log, windows, "test"))
    # bob's only basket is the split's target: nothing of his is left to label
    assert labels.truth == {users["alice"]: {2}}
    assert labels.user_cutoffs[users["alice"]] == start + 5 * DAY
    assert labels.user_cutoffs[users["bob"]] == start + 3 * DAY  # the split's cutoff stays
    assert labels.user_cutoffs[users["carol"]] == windows.as_of + 1  # nothing hidden


def test_the_protocol_rule_prefers_calendar_unless_it_judges_too_few():
    assert choose_protocol({"calendar": 300, "last_basket": 1000})[0] == "calendar"
    protocol, why = choose_protocol({"calendar": 100, "last_basket": 1000})
    assert protocol == "last_basket" and "under 25%" in why
    assert choose_protocol({"calendar": 0, "last_basket": 0})[0] == "calendar"
    assert choose_protocol({"calendar": 1, "last_basket": 1000}, "calendar") == ("calendar",
                                                                                "configured")
    with pytest.raises(ValueError, match="protocol"):
        choose_protocol({}, "leave-one-out")


def test_a_user_s_visible_events_all_come_before_their_cutoff(shop):
    _, log, windows, _, _ = shop
    for stage in ("validation", "test"):
        split = last_basket_split(log, windows, stage)
        assert (log.time[split.visible] < split.user_cutoffs[log.user[split.visible]]).all()
        assert np.array_equal(split.visible, log.time < split.user_cutoffs[log.user])


def test_the_visit_that_led_to_a_held_out_basket_is_hidden_with_it():
    """dave views i1 and carts it ten minutes before buying it: those events would give the
    held-out basket away, so the cutoff moves to the visit's start; his view days before stays."""
    rows = [("dave", 2, "view", 1, None), ("dave", 0, "purchase", 2, "d1"),
            ("dave", 1, "view", 5 - 20 / 1440, None), ("dave", 1, "add_to_cart", 5 - 10 / 1440,
                                                         None),
            ("dave", 1, "purchase", 5, "d2")]
    catalog, log = tiny_shop(rows, 3)
    start = float(log.time.min())
    windows = Windows(validation_start=start, test_start=start, as_of=start + 6 * DAY)
    split = last_basket_split(log, windows, "test")
    assert split.truth == {0: {1}}
    assert split.user_cutoffs[0] == pytest.approx(start + (4 - 20 / 1440) * DAY)  # the view
    assert sorted(log.event[split.visible].tolist()) == [0, 3]  # the day-0 view, the d1 purchase
