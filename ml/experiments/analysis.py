"""An experiment's analysis: exposures and the shop's events -> one row per visitor -> per-arm
statistics (statistics.py) -> the report the `experiment_report` asset writes.

The unit is the visitor the service randomized (exposure `unit`, ml/experiments/assignment.py). Each
visitor's arm is that of their exposures; a visitor seen in two arms (never, with sticky
assignment; a broken client or a changed salt would do it) is counted and left out, as are
visitors without personalization consent (exposures `excluded`).

Attribution (docs/experiments.md): an outcome event (click, add_to_cart, purchase,
view for sessions) counts for a visitor when
1. it carries the request_id of one of their exposures (a click on a recommendation), or else
2. it is theirs (raw.events user_id: the customer, or the guest id of their anonymous id, as
   their exposures name them) and happened between their first exposure and `attribution_hours`
   after their last one.
Events before a visitor's first exposure count only as their pre-period (CUPED's covariate: their
revenue in the PRE_PERIOD_DAYS before it).

KPIs per visitor: converted (bought), clicked, clicks / exposures (CTR per exposure, delta
method), clicks / impressions when the front end sends `impression` events with the request_id
(CTR per impression, delta method), revenue (per visitor, Welch; CUPED-adjusted too), revenue /
orders (average order value, delta method), session length (mean seconds from the first to the
last event of their sessions in the window; 0 without any).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime

import pandas as pd

from ml.experiments.design import Experiment, detectable
from ml.experiments.statistics import (
    ALPHA,
    Comparison,
    Covariate,
    Mean,
    Proportion,
    Ratio,
    cuped,
    delta_ratio,
    sample_ratio,
    two_proportions,
    verdict,
    welch,
)
from ml.schema import GUEST_PREFIX

PRE_PERIOD_DAYS = 28
OUTCOMES = ("view", "impression", "click", "add_to_cart", "purchase")
TIMELINE_POINTS = 24
VISITOR_COLUMNS = ("unit", "variant", "first_exposure", "exposures", "impressions", "clicks",
                   "carts", "orders", "revenue", "session_seconds", "pre_revenue")


def visitors(experiment: Experiment, exposures: pd.DataFrame, events: pd.DataFrame,
             until: datetime | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per visitor of the experiment (VISITOR_COLUMNS), with exposures and events up to
    `until` (default: all); and the counts of who was left out, and why."""
    shown = exposures[exposures["experiment"] == experiment.name]
    if until is not None:
        shown = shown[shown["occurred_at"] <= until]
        events = events[events["occurred_at"] <= until]
    excluded = shown[shown["excluded"].notna()]
    shown = shown[shown["excluded"].isna() & shown["variant"].notna()]
    arms = shown.groupby("unit")["variant"].nunique()
    crossed = arms.index[arms > 1]
    shown = shown[~shown["unit"].isin(crossed)]
    left_out = {"no_consent": int(excluded["unit"].nunique()), "in_two_arms": int(len(crossed))}
    if shown.empty:
        return pd.DataFrame(columns=list(VISITOR_COLUMNS)), left_out

    per_unit = shown.groupby("unit").agg(variant=("variant", "first"),
                                         first_exposure=("occurred_at", "min"),
                                         last_exposure=("occurred_at", "max"),
                                         exposures=("event_id", "size"))
    window_end = per_unit["last_exposure"] + pd.Timedelta(hours=experiment.attribution_hours)
    # Whose events are whose: a visitor's ids as their exposures name them (first unit wins).
    ids = pd.concat([shown[["occurred_at", "user_id", "unit"]],
                     shown.loc[shown["anonymous_id"].notna(), ["occurred_at", "unit"]].assign(
                         user_id=GUEST_PREFIX + shown["anonymous_id"].dropna())])
    owner = ids.sort_values("occurred_at").drop_duplicates("user_id").set_index("user_id")["unit"]
    by_request = shown.drop_duplicates("request_id").set_index("request_id")["unit"]

    relevant = events[events["event_type"].isin(OUTCOMES)]
    unit = relevant["request_id"].map(by_request)
    attributed = unit.notna()
    unit = unit.fillna(relevant["user_id"].map(owner))
    frame = relevant.assign(unit=unit)[unit.notna()]
    frame = frame.assign(attributed=attributed[unit.notna()],
                         first=frame["unit"].map(per_unit["first_exposure"]),
                         end=frame["unit"].map(window_end))
    in_window = frame["attributed"] | ((frame["occurred_at"] >= frame["first"])
                                       & (frame["occurred_at"] <= frame["end"]))
    before = ~frame["attributed"] & (frame["occurred_at"] < frame["first"]) & (
        frame["occurred_at"] >= frame["first"] - pd.Timedelta(days=PRE_PERIOD_DAYS))
    outcome, pre = frame[in_window], frame[before]

    purchases = outcome[outcome["event_type"] == "purchase"]
    value = _value(purchases)
    orders = purchases.assign(order=purchases["order_id"].fillna(purchases["event_id"]))
    sessions = outcome[outcome["session_id"].notna()].groupby(["unit", "session_id"])[
        "occurred_at"].agg(["min", "max"])
    seconds = (sessions["max"] - sessions["min"]).dt.total_seconds().groupby("unit").mean()
    pre_purchases = pre[pre["event_type"] == "purchase"]

    table = per_unit[["variant", "first_exposure", "exposures"]].copy()
    kind = outcome["event_type"]
    table["impressions"] = outcome[kind == "impression"].groupby("unit").size()
    table["clicks"] = outcome[kind == "click"].groupby("unit").size()
    table["carts"] = outcome[kind == "add_to_cart"].groupby("unit").size()
    table["orders"] = orders.groupby("unit")["order"].nunique()
    table["revenue"] = value.groupby(purchases["unit"]).sum()
    table["session_seconds"] = seconds
    table["pre_revenue"] = _value(pre_purchases).groupby(pre_purchases["unit"]).sum()
    counts = ["impressions", "clicks", "carts", "orders"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table[["revenue", "session_seconds", "pre_revenue"]] = table[
        ["revenue", "session_seconds", "pre_revenue"]].fillna(0.0).astype("float64")
    return table.reset_index()[list(VISITOR_COLUMNS)], left_out


def _value(purchases: pd.DataFrame) -> pd.Series:
    quantity = pd.to_numeric(purchases["quantity"], errors="coerce").fillna(1).astype("float64")
    price = pd.to_numeric(purchases["price"], errors="coerce").fillna(0.0).astype("float64")
    return price * quantity


def compare(kpi: str, control: pd.DataFrame, treatment: pd.DataFrame,
            alpha: float = ALPHA) -> Comparison:
    """Treatment against control on one KPI, with the test that suits it."""
    if kpi in ("conversion", "click_through"):
        column = "orders" if kpi == "conversion" else "clicks"
        return two_proportions(*(Proportion(len(f), int((f[column] > 0).sum()))
                                 for f in (control, treatment)), alpha=alpha)
    if kpi == "ctr_per_exposure":
        return delta_ratio(*(Ratio.of(f["clicks"], f["exposures"]) for f in (control, treatment)),
                           alpha=alpha)
    if kpi == "ctr_per_impression":
        return delta_ratio(*(Ratio.of(f["clicks"], f["impressions"])
                             for f in (control, treatment)), alpha=alpha)
    if kpi == "average_order_value":
        return delta_ratio(*(Ratio.of(f["revenue"], f["orders"]) for f in (control, treatment)),
                           alpha=alpha)
    if kpi == "revenue_per_visitor":
        return welch(*(Mean.of(f["revenue"]) for f in (control, treatment)), alpha=alpha)
    if kpi == "session_length":
        return welch(*(Mean.of(f["session_seconds"]) for f in (control, treatment)), alpha=alpha)
    raise ValueError(f"kpi: unknown KPI {kpi!r}")


def analyse(experiment: Experiment, exposures: pd.DataFrame, events: pd.DataFrame,
            as_of: datetime) -> dict:
    """The report: visitors per arm, who was left out, the SRM check, every KPI of every arm
    against control (Bonferroni over the arms), CUPED on revenue, the verdict and the timeline
    of the primary KPI's cumulative lift."""
    table, left_out = visitors(experiment, exposures, events)
    names = [v.name for v in experiment.variants]
    arms = {name: table[table["variant"] == name] for name in names}
    counts = [len(arms[n]) for n in names]
    srm = sample_ratio(counts, experiment.weights()) if sum(counts) else None
    treatments = [n for n in names if n != "control"]
    alpha = ALPHA / len(treatments)  # Bonferroni: each treatment arm against control
    kpis = [experiment.primary_kpi, *experiment.guardrails]
    kpis += [k for k in ("conversion", "click_through", "ctr_per_exposure", "revenue_per_visitor",
                         "average_order_value", "session_length") if k not in kpis]
    if len(table) and table["impressions"].sum() > 0:  # the front end sends impressions
        kpis.append("ctr_per_impression")
    comparisons, verdicts, adjusted = [], {}, {}
    enough = all(c >= 2 for c in counts)
    for arm in treatments:
        by_kpi = {k: compare(k, arms["control"], arms[arm], alpha) for k in kpis} if enough else {}
        for kpi, c in by_kpi.items():
            comparisons.append({"kpi": kpi, "arm": arm, "role": _role(experiment, kpi),
                                **_finite(asdict(c)), "significant": c.significant})
        if enough:
            adjusted[arm] = _finite(asdict(cuped(*(Covariate.of(f["revenue"], f["pre_revenue"])
                                                    for f in (arms["control"], arms[arm])),
                                                 alpha=alpha)))
        verdicts[arm] = _verdict(experiment, by_kpi, srm, counts)
    planning = experiment.planning
    return {
        "experiment": experiment.name,
        "definition": experiment.model_dump(mode="json"),
        "as_of": as_of.isoformat(),
        "status": ("holdback" if experiment.holdback else
                   "running" if experiment.running(as_of) else
                   "ended" if experiment.started(as_of) else "not started"),
        "visitors": dict(zip(names, counts, strict=True)),
        "planned_visitors": experiment.planned_visitors,
        "left_out": left_out,
        "exposures": int(table["exposures"].sum()) if len(table) else 0,  # of those analysed
        "exposures_logged": int((exposures["experiment"] == experiment.name).sum()),
        "srm": None if srm is None else {"p_value": srm.p_value, "mismatch": srm.mismatch,
                                         "observed": list(srm.observed),
                                         "expected": [round(e, 1) for e in srm.expected]},
        "alpha": alpha,
        "comparisons": comparisons,
        "cuped_revenue_per_visitor": adjusted,
        "detectable_relative_lift": (detectable(planning, max(1, min(counts)))
                                     if planning and min(counts) else None),
        "verdicts": verdicts,
        "timeline": timeline(experiment, exposures, events, as_of) if enough else [],
    }


def _role(experiment: Experiment, kpi: str) -> str:
    if kpi == experiment.primary_kpi:
        return "primary"
    return "guardrail" if kpi in experiment.guardrails else "secondary"


def _verdict(experiment: Experiment, by_kpi: dict[str, Comparison], srm, counts) -> dict:
    if experiment.holdback:
        return {"decision": "monitoring", "reason": "a holdback: KPIs of personalized vs control "
                                                    "are monitored, no verdict is made"}
    if srm is None or not by_kpi:
        return {"decision": "keep running", "reason": "fewer than 2 visitors in an arm"}
    result = verdict(by_kpi[experiment.primary_kpi],
                     {k: by_kpi[k] for k in experiment.guardrails}, srm, counts,
                     [experiment.planned_visitors] * len(counts))
    return {"decision": result.decision, "reason": result.reason}


def timeline(experiment: Experiment, exposures: pd.DataFrame, events: pd.DataFrame,
             as_of: datetime) -> list[dict]:
    """The primary KPI's cumulative lift of the first treatment arm and its interval, as it
    read at TIMELINE_POINTS moments from the first exposure to `as_of` (what was known then)."""
    shown = exposures[exposures["experiment"] == experiment.name]
    if shown.empty:
        return []
    start = pd.Timestamp(shown["occurred_at"].min()).to_pydatetime()
    # to the latest outcome too: clocks ahead of the report's (within the contract's tolerance)
    latest = [pd.Timestamp(f["occurred_at"].max()) for f in (shown, events) if len(f)]
    end = max(as_of, *(t.to_pydatetime() for t in latest if not pd.isna(t)))
    arm = next(v.name for v in experiment.variants if v.name != "control")
    points = []
    for step in range(1, TIMELINE_POINTS + 1):
        cut = start + (end - start) * step / TIMELINE_POINTS
        table, _ = visitors(experiment, exposures, events, cut)
        control, treatment = (table[table["variant"] == n] for n in ("control", arm))
        if len(control) < 2 or len(treatment) < 2:
            continue
        c = compare(experiment.primary_kpi, control, treatment)
        points.append({"at": cut.isoformat(), "visitors": len(table), **_finite(
            {"lift": c.lift, "lift_low": c.lift_low, "lift_high": c.lift_high,
             "relative_lift": c.relative_lift, "relative_low": c.relative_low,
             "relative_high": c.relative_high, "p_value": c.p_value})})
    return points


def _finite(values: dict) -> dict:
    """JSON-ready: NaN and infinities as None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in values.items()}
