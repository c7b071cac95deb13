"""Evaluation protocols: what a model may learn from and what it is judged on.

Two protocols, both ranking the full catalog:

- `calendar`: one cutoff for the whole shop (dbt's `ml_temporal_split`). A model is fit on the
  events before the window and judged on the purchases inside it:

      ... history ... | validation window | test window | as_of

  It is faithful to time but judges only customers who come back inside the window: on a sparse
  shop, a small share of them.
- `last_basket`: per customer, leave the last basket out. Test: each customer's last purchase
  basket is the target and the model sees everything of that customer before it (other
  customers' events stay visible); validation: the basket before it, the last one hidden too.
  Every customer with two baskets, or one basket after some views, is judged.

A `Split` is one stage of one protocol (validation, test, or serve: everything visible). Within a
split, `per_user_labels` holds out each user's last visible basket as the label of the re-ranker:
its training groups come from users of every history length, each with a cutoff of their own.

`choose_protocol` picks the protocol whose test metrics headline the report and which the gate
against the champion uses (model selection looks at both; `ml.evaluation.selection`): `calendar`
unless it judges fewer than `CALENDAR_MIN_SHARE` of the customers `last_basket` judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.data import EVENT_CODES, EventLog, Windows, relevant_purchases

# What a split judges: every relevant item (all), or only items new to the customer (new).
TARGETS = ("all", "new")

PROTOCOLS = ("calendar", "last_basket")
STAGES = ("validation", "test")
VALIDATION_FOLDS = 2  # time-based cross-validation: validation folds 0 and 1 (tuning)
# auto: the calendar protocol headlines when it judges at least this share of the customers the
# last-basket protocol judges on the test stage; else `last_basket` does.
CALENDAR_MIN_SHARE = 0.25
SERVE_KEY = "serve"  # the served fit's split key (its point-in-time features' cutoff_id)
VISIT_GAP_SECONDS = 1800.0  # a pause longer than this ends a visit (sessionization's usual 30 min)


@dataclass(frozen=True)
class Split:
    """One stage of one protocol: the events a model may see, and the purchases to predict."""

    protocol: str
    stage: str
    visible: np.ndarray  # bool per event of the log
    cutoff: float  # the shop's "now" (seconds): popularity and trending are measured from it
    user_cutoffs: np.ndarray | None  # per user "now" (seconds), or None: `cutoff` for everyone
    truth: dict[int, set[int]]  # customer -> items bought in the target (no guests)
    # The split's name, and its point-in-time features' cutoff_id (ml.point_in_time)
    key: str

    def now(self, n_users: int) -> np.ndarray:
        """Each user's "now": their own cutoff, else the shop's."""
        if self.user_cutoffs is None:
            return np.full(n_users, self.cutoff)
        return self.user_cutoffs


def serve_split(log: EventLog, cutoff: float) -> Split:
    """Everything before `cutoff` visible, nothing to judge: what a served model is fit on."""
    return Split("calendar", "serve", log.time < cutoff, cutoff, None, {}, SERVE_KEY)


def calendar_split(log: EventLog, windows: Windows, stage: str, fold: int = 0) -> Split:
    """validation: fit before validation_start, judged up to test_start; test: fit before
    test_start, judged up to as_of; serve: everything up to as_of, nothing to judge. Validation
    fold f > 0 (time-based cross-validation): the validation window moved f lengths earlier."""
    if stage == "serve":
        return serve_split(log, windows.as_of + 1)
    shift = fold * (windows.test_start - windows.validation_start)
    start, end = {
        "validation": (windows.validation_start - shift, windows.test_start - shift),
        "test": (windows.test_start, windows.as_of),
    }[stage]
    return Split("calendar", stage, log.time < start, start, None,
                 relevant_purchases(log, start, end), f"calendar/{stage}/{fold}")


def last_basket_split(log: EventLog, windows: Windows, stage: str, fold: int = 0) -> Split:
    """test: each customer's last basket is the target, hidden with everything of theirs after
    its start; validation: the basket before it, the last one hidden too; serve: all visible.
    Validation fold f > 0: the basket f further back, the later ones hidden."""
    hidden = {"serve": 0, "test": 1, "validation": 2 + fold}[stage]
    everything = np.ones(len(log), dtype=bool)
    visible, user_cutoffs, truth = hide_last_baskets(log, everything, hidden,
                                                     np.full(log.n_users, windows.as_of + 1))
    return Split("last_basket", stage, visible, windows.as_of + 1, user_cutoffs, truth,
                 f"last_basket/{stage}/{fold}")


def protocol_split(log: EventLog, windows: Windows, protocol: str, stage: str, fold: int = 0
                   ) -> Split:
    if protocol == "calendar":
        return calendar_split(log, windows, stage, fold)
    if protocol == "last_basket":
        return last_basket_split(log, windows, stage, fold)
    raise ValueError(f"protocol: {protocol!r} is not one of {PROTOCOLS}")


def per_user_labels(log: EventLog, split: Split) -> Split:
    """The re-ranker's training set within `split`: each user's last visible basket is the label,
    their earlier events the features, their cutoff the basket's start."""
    visible, user_cutoffs, truth = hide_last_baskets(log, split.visible, 1,
                                                     split.now(log.n_users))
    return Split(split.protocol, "labels", visible, split.cutoff, user_cutoffs, truth,
                 f"{split.key}/labels")


def hide_last_baskets(
    log: EventLog, visible: np.ndarray, n: int, now: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[int, set[int]]]:
    """Hide each customer's last `n` purchase baskets among the `visible` events (and every event
    of theirs from the start of the visit that ended in the earliest hidden basket on). Returns
    the visible mask, each user's cutoff (that visit's start; `now` for users with nothing hidden)
    and the items of the earliest hidden basket per customer (guests are never targets, and keep
    their events)."""
    user_cutoffs = np.array(now, dtype=np.float64, copy=True)
    if n == 0:
        return visible.copy(), user_cutoffs, {}
    bought = visible & (log.event == EVENT_CODES["purchase"]) & ~log.is_guest[log.user]
    frame = pd.DataFrame({"user": log.user[bought], "basket": log.basket[bought],
                          "time": log.time[bought], "item": log.item[bought]})
    starts = frame.groupby(["user", "basket"], sort=False)["time"].min().rename("start")
    starts = starts.reset_index().sort_values(["user", "start", "basket"], kind="stable")
    starts["back"] = starts.groupby("user").cumcount(ascending=False)  # 0 = the last basket
    hidden = starts[starts["back"] < n]
    earliest = hidden.sort_values("back").groupby("user").tail(1)  # back = n-1, or the first
    users = earliest["user"].to_numpy()
    user_cutoffs[users] = visit_starts(log, visible, users, earliest["start"].to_numpy())
    target = earliest[earliest["back"] == n - 1]
    items = frame.merge(target[["user", "basket"]], on=["user", "basket"])
    truth: dict[int, set[int]] = {}
    for user, item in zip(items["user"].tolist(), items["item"].tolist(), strict=True):
        truth.setdefault(user, set()).add(item)
    return visible & (log.time < user_cutoffs[log.user]), user_cutoffs, truth


def headline_protocol(log: EventLog, windows: Windows, requested: str = "auto"
                      ) -> tuple[str, str]:
    """`choose_protocol` on the customers each protocol's test split can judge (a target and
    something visible before it), counted without fitting anything."""
    judged = {}
    for protocol in PROTOCOLS:
        split = protocol_split(log, windows, protocol, "test")
        seen = np.zeros(log.n_users, dtype=bool)
        seen[log.user[split.visible]] = True
        judged[protocol] = int(sum(seen[u] for u in split.truth))
    return choose_protocol(judged, requested)


def visit_starts(log: EventLog, visible: np.ndarray, users: np.ndarray, starts: np.ndarray
                 ) -> np.ndarray:
    """Per (user, basket start): when the visit that ended in that basket began (its events no
    more than VISIT_GAP_SECONDS apart). Hiding from there keeps the views and carts that led to
    the basket out of what a model sees: they would give its items away."""
    mask = visible & np.isin(log.user, users)
    user, time = log.user[mask], log.time[mask]
    order = np.lexsort((time, user))
    user, time = user[order], time[order]
    new = np.r_[True, (user[1:] != user[:-1]) | (np.diff(time) > VISIT_GAP_SECONDS)]
    began = time[np.maximum.accumulate(np.where(new, np.arange(len(time)), 0))]
    visits = pd.DataFrame({"user": user, "time": time, "began": began})
    lookup = visits.drop_duplicates(["user", "time"]).set_index(["user", "time"])["began"]
    return lookup.reindex(pd.MultiIndex.from_arrays([users, starts])).to_numpy()


def choose_protocol(judged: dict[str, int], requested: str = "auto") -> tuple[str, str]:
    """(protocol, why): `requested` when it is one of PROTOCOLS; for "auto", the rule of the
    module docstring on `judged` (customers each protocol judges on the test stage)."""
    if requested in PROTOCOLS:
        return requested, "configured"
    if requested != "auto":
        raise ValueError(f"protocol: {requested!r} is not auto or one of {PROTOCOLS}")
    calendar, last_basket = judged.get("calendar", 0), judged.get("last_basket", 0)
    if last_basket and calendar < CALENDAR_MIN_SHARE * last_basket:
        return "last_basket", (f"auto: the calendar window judges {calendar:,} customers, under "
                               f"{CALENDAR_MIN_SHARE:.0%} of the {last_basket:,} that "
                               f"last_basket judges")
    return "calendar", (f"auto: the calendar window judges {calendar:,} customers, at least "
                        f"{CALENDAR_MIN_SHARE:.0%} of the {last_basket:,} that last_basket "
                        f"judges")
