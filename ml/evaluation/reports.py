"""What the model assets report, as plain JSON-able dicts: the tuning report, the evaluation report
(every contender under both protocols, the selection, and the champion's settings judged on the
same validation split) and the challenger's model card."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ml.data import Catalog, EventLog, Windows
from ml.evaluation.protocols import TARGETS
from ml.evaluation.selection import METRIC

if TYPE_CHECKING:
    from ml.ranking.training import TrainingParams


def tuning_report(best: TrainingParams, trials: list[dict], windows: Windows,
                  protocol: str, requested: str) -> dict:
    """`protocol`: the one tuning used, chosen from `requested` (auto, or a protocol)."""
    return {"best": best.to_dict(), "trials": trials, "windows": windows.describe(),
            "protocol": protocol, "protocol_requested": requested}


def contender_view(results: dict, contender: str) -> dict:
    """One contender's part of `contender_results`: per protocol and stage, who was judged, its
    metric row and bucket NDCG@10 per target (None where it could not compete), what was
    skipped, and the hybrid's candidate recall."""
    view = {}
    for protocol, stages in results.items():
        view[protocol] = {}
        for stage, report in stages.items():
            entry = {"skipped": report["skipped"]}
            for target in TARGETS:
                part = report[target]
                entry[target] = {
                    "users": part["users"],
                    "metrics": part["models"].get(contender),
                    "buckets": {b: {"users": row["users"], "ndcg@10": row[contender]}
                                for b, row in part["buckets"].items() if contender in row},
                    **({"candidate_recall": part.get("candidate_recall", {})}
                       if contender == "hybrid" else {}),
                }
            view[protocol][stage] = entry
    return {"contender": contender, "protocols": view}


def assemble(views: list[dict]) -> dict:
    """`contender_results` again, from every contender's view."""
    results: dict = {}
    for view in views:
        name = view["contender"]
        for protocol, stages in view["protocols"].items():
            for stage, entry in stages.items():
                report = results.setdefault(protocol, {}).setdefault(
                    stage, {"skipped": entry["skipped"]})
                for target in TARGETS:
                    part = entry[target]
                    into = report.setdefault(target, {"users": part["users"], "models": {},
                                                      "buckets": {}, "candidate_recall": {}})
                    if part["metrics"] is not None:
                        into["models"][name] = part["metrics"]
                    for bucket, row in part["buckets"].items():
                        into["buckets"].setdefault(bucket, {"users": row["users"]})[name] = \
                            row["ndcg@10"]
                    if part.get("candidate_recall"):
                        into["candidate_recall"] = part["candidate_recall"]
    return results


def headline(report: dict, stage: str) -> dict:
    """The headline protocol's evaluation of one stage (what tables and the gate show first)."""
    return report["protocols"][report["protocol"]][stage]


def contender_ndcg(evaluation: dict, contender: str) -> float | None:
    """`contender`'s NDCG@10 (target all) in one stage's evaluation; None when it has no row
    (the split judged nobody, or the contender could not compete)."""
    row = evaluation["all"]["models"].get(contender)
    return None if row is None else row[METRIC]


def model_card(run_id: str, code_version: str, log: EventLog, catalog: Catalog,
               windows: Windows, evaluation: dict) -> dict:
    """The challenger's card: version, data window, the winning contender and by how much, its
    settings and their evaluation, sizes."""
    as_of = datetime.utcfromtimestamp(windows.as_of)
    selection = evaluation["selection"]
    return {
        "version": f"{as_of:%Y%m%d}-{run_id[:8]}",
        "run_id": run_id,
        "code_version": code_version,
        "trained_at": datetime.utcnow().isoformat(timespec="seconds"),
        "data_window": {
            "first_event": datetime.utcfromtimestamp(float(log.time.min())).isoformat(),
            **windows.describe(),
        },
        "contender": evaluation["contender"],
        "selection": {key: selection.get(key) for key in ("winner", "runner_up", "margin",
                                                           "reason", "scores")},
        "params": evaluation["params"],
        "protocol": evaluation["protocol"],
        "validation": headline(evaluation, "validation"),
        "test": headline(evaluation, "test"),
        "users": int(log.n_users),
        "items": int(catalog.size),
        "events": len(log),
    }
