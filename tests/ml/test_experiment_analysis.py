"""An experiment's analysis (ml/experiments/analysis.py) on hand-made exposures and events whose
per-visitor rows are known: attribution by request_id and by window, a stitched visitor's events
under both ids, the pre-period, who is left out; then the report's tests and verdict."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.experiments.analysis import analyse, compare, visitors
from ml.experiments.design import Experiment
from ml.experiments.statistics import Mean, Proportion, two_proportions, welch
from ml.schema import EVENT_COLUMNS, EXPOSURE_COLUMNS

T0 = datetime(2026, 12, 1, 10)


def experiment(**changes) -> Experiment:
    return Experiment.model_validate({
        "name": "homepage-test", "placement": "homepage", "salt": "salt-salt",
        "variants": [{"name": "control", "weight": 1, "serves": "trending"},
                     {"name": "treatment", "weight": 1, "serves": "personalized"}],
        "start_at": T0 - timedelta(days=1), "planned_visitors": 2, **changes})


def exposures(rows) -> pd.DataFrame:
    out = []
    for n, (unit, variant, user, anon, request, minutes, *excluded) in enumerate(rows):
        out.append({"event_id": f"x{n}", "experiment": "homepage-test", "variant": variant,
                    "unit": unit, "user_id": user, "anonymous_id": anon, "placement": "homepage",
                    "endpoint": "homepage", "request_id": request,
                    "occurred_at": T0 + timedelta(minutes=minutes), "model_version": "v1",
                    "personalized": variant == "treatment",
                    "excluded": excluded[0] if excluded else None, "item_ids": "[]"})
    return pd.DataFrame(out, columns=list(EXPOSURE_COLUMNS)).astype(EXPOSURE_COLUMNS)


def events(rows) -> pd.DataFrame:
    out = []
    for n, (user, kind, minutes, request, price, session) in enumerate(rows):
        out.append({"event_id": f"e{n}", "user_id": user, "session_id": session, "item_id": "i1",
                    "event_type": kind, "occurred_at": T0 + timedelta(minutes=minutes),
                    "quantity": 1 if kind == "purchase" else None, "price": price,
                    "order_id": f"o{n}" if kind == "purchase" else None, "dwell_seconds": None,
                    "placement": None, "request_id": request})
    return pd.DataFrame(out, columns=list(EVENT_COLUMNS)).astype(EVENT_COLUMNS)


def test_outcomes_are_attributed_by_request_id_then_by_visitor_within_the_window():
    shown = exposures([
        ("anon:a", "treatment", None, "a", "r1", 0),  # anonymous, then signs in as u1
        ("anon:a", "treatment", "u1", "a", "r2", 10),
        ("user:u2", "control", "u2", None, "r3", 0),
        ("user:u3", "control", "u3", None, "r4", 0, "no_consent"),
        ("anon:b", "control", None, "b", "r5", 0),
        ("anon:b", "treatment", None, "b", "r6", 1),  # in two arms: left out
    ])
    happened = events([
        ("guest-a", "impression", 0.5, "r1", None, "s1"),  # the front end rendered it
        ("guest-a", "click", 1, "r1", None, "s1"),  # by request_id
        ("u1", "purchase", 12, None, 30.0, "s1"),  # the stitched customer, in the window
        ("u1", "purchase", 60 * 30, None, 99.0, "s9"),  # 30 h after the last exposure: out
        ("u2", "purchase", -60 * 24, None, 15.0, "s0"),  # before the first exposure: pre-period
        ("u2", "view", 5, None, None, "s2"),
        ("u2", "view", 8, None, None, "s2"),  # a 3-minute session
        ("u3", "purchase", 3, None, 50.0, "s3"),  # no consent: not counted anywhere
        ("stranger", "purchase", 3, "r-unknown", 70.0, "s4"),
    ])
    table, left_out = visitors(experiment(), shown, happened)
    assert left_out == {"no_consent": 1, "in_two_arms": 1}
    rows = table.set_index("unit")
    assert sorted(rows.index) == ["anon:a", "user:u2"]
    a, u2 = rows.loc["anon:a"], rows.loc["user:u2"]
    assert (a["variant"], a["exposures"], a["impressions"], a["clicks"], a["orders"],
            a["revenue"]) == ("treatment", 2, 1, 1, 1, 30.0)
    assert a["session_seconds"] == 11.5 * 60  # from the impression at 0.5 min to the purchase at 12
    assert (u2["orders"], u2["revenue"], u2["pre_revenue"], u2["session_seconds"]) == (
        0, 0.0, 15.0, 180.0)


def test_each_kpi_gets_its_test_on_the_per_visitor_rows():
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"variant": np.repeat(["control", "treatment"], n),
                          "exposures": rng.integers(1, 5, 2 * n),
                          "clicks": rng.integers(0, 3, 2 * n),
                          "orders": rng.binomial(1, 0.2, 2 * n),
                          "revenue": rng.exponential(20, 2 * n),
                          "session_seconds": rng.exponential(300, 2 * n)})
    frame["revenue"] *= frame["orders"]
    control, treatment = frame[:n], frame[n:]
    conversion = compare("conversion", control, treatment)
    expected = two_proportions(Proportion(n, int(control["orders"].gt(0).sum())),
                               Proportion(n, int(treatment["orders"].gt(0).sum())))
    assert conversion == expected
    assert compare("revenue_per_visitor", control, treatment) == welch(
        Mean.of(control["revenue"]), Mean.of(treatment["revenue"]))
    aov = compare("average_order_value", control, treatment)
    assert aov.control == pytest.approx(control["revenue"].sum() / control["orders"].sum())
    assert aov.test.startswith("delta")
    frame["impressions"] = frame["exposures"] * 3
    ctr = compare("ctr_per_impression", frame[:n], frame[n:])
    assert ctr.control == pytest.approx(control["clicks"].sum() / (3 * control["exposures"].sum()))
    with pytest.raises(ValueError, match="kpi: unknown KPI"):
        compare("happiness", control, treatment)


def test_the_report_waits_for_the_planned_sample_and_srm_stops_it():
    rows = [(f"user:c{i}", "control", f"c{i}", None, f"rc{i}", 0) for i in range(30)]
    rows += [(f"user:t{i}", "treatment", f"t{i}", None, f"rt{i}", 0) for i in range(30)]
    bought = [(f"t{i}", "purchase", 5, None, 10.0, f"s{i}") for i in range(20)]
    report = analyse(experiment(planned_visitors=100), exposures(rows), events(bought),
                     T0 + timedelta(hours=1))
    assert report["visitors"] == {"control": 30, "treatment": 30}
    assert report["verdicts"]["treatment"]["decision"] == "keep running"
    report = analyse(experiment(planned_visitors=20), exposures(rows), events(bought),
                     T0 + timedelta(hours=1))
    primary = next(c for c in report["comparisons"] if c["role"] == "primary")
    assert primary["kpi"] == "conversion" and primary["significant"]
    assert report["verdicts"]["treatment"]["decision"] == "ship"
    assert report["timeline"] and report["timeline"][-1]["visitors"] == 60
    lopsided = rows[:30] + rows[30:] + [(f"user:x{i}", "control", f"x{i}", None, f"rx{i}", 0)
                                        for i in range(40)]
    report = analyse(experiment(planned_visitors=20), exposures(lopsided), events(bought),
                     T0 + timedelta(hours=1))
    assert report["srm"]["mismatch"]
    assert report["verdicts"]["treatment"]["decision"] == "stop"
    assert "sample ratio mismatch" in report["verdicts"]["treatment"]["reason"]


def test_a_holdback_is_monitored_without_a_verdict():
    rows = [(f"user:c{i}", v, f"c{i}", None, f"r{i}", 0)
            for i, v in enumerate(["control", "treatment"] * 10)]
    report = analyse(experiment(holdback=True), exposures(rows), events([]), T0)
    assert report["status"] == "holdback"
    assert report["verdicts"]["treatment"]["decision"] == "monitoring"


def test_more_arms_are_each_compared_with_control_at_a_bonferroni_alpha():
    three = experiment(variants=[
        {"name": "control", "weight": 1, "serves": "trending"},
        {"name": "treatment", "weight": 1, "serves": "personalized"},
        {"name": "treatment-b", "weight": 1, "serves": "personalized"}], planned_visitors=10)
    rows = [(f"user:{arm}{i}", arm, f"{arm}{i}", None, f"r{arm}{i}", 0)
            for arm in ("control", "treatment", "treatment-b") for i in range(20)]
    bought = [(f"treatment{i}", "purchase", 5, None, 10.0, f"s{i}") for i in range(12)]
    report = analyse(three, exposures(rows), events(bought), T0 + timedelta(hours=1))
    assert report["alpha"] == pytest.approx(0.025)
    assert {c["arm"] for c in report["comparisons"]} == {"treatment", "treatment-b"}
    assert report["verdicts"]["treatment"]["decision"] == "ship"
    assert report["verdicts"]["treatment-b"]["decision"] == "inconclusive"
    assert all(c["alpha"] == pytest.approx(0.025) for c in report["comparisons"])
