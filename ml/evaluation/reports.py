"""What the model assets report, as plain JSON-able dicts: the tuning report, the evaluation report
(every contender under both protocols, the selection, and the champion's settings judged on the
same validation split) and the challenger's model card."""

from __future__ import annotations

from datetime import datetime

from ml.data import Catalog, EventLog, Windows
from ml.evaluation.protocols import PROTOCOLS, STAGES, headline_protocol, protocol_split
from ml.evaluation.selection import CHAMPION, METRIC, select
from ml.point_in_time import FeatureStore
from ml.ranking.training import TARGETS, TrainingParams, evaluate, train


def tuning_report(best: TrainingParams, trials: list[dict], windows: Windows,
                  protocol: str, requested: str) -> dict:
    """`protocol`: the one tuning used, chosen from `requested` (auto, or a protocol)."""
    return {"best": best.to_dict(), "trials": trials, "windows": windows.describe(),
            "protocol": protocol, "protocol_requested": requested}


def contender_results(log: EventLog, catalog: Catalog, windows: Windows,
                      params: TrainingParams, features: FeatureStore) -> dict:
    """protocol -> stage -> `evaluate(...)`: `params` fit on the validation and test split of both
    protocols (one fit per split serves every contender), every contender judged."""
    return _evaluate_protocols(log, catalog, windows, params, STAGES, features)


def evaluation_report(
    log: EventLog,
    catalog: Catalog,
    windows: Windows,
    params: TrainingParams,
    features: FeatureStore,
    champion: dict | None = None,
    protocol: str = "auto",
    results: dict | None = None,
) -> dict:
    """The report of `contender_results` (`results`, computed here when not given); the headline
    protocol (`headline_protocol`); and the selection (on validation), in which the champion
    ({"tag", "metadata": {"params", "contender"}}), its settings refit on this data, competes as
    `CHAMPION`. When the champion's settings win, they are the challenger's, and the report's
    tables are theirs."""
    headline_name, why = headline_protocol(log, windows, protocol)
    if results is None:
        results = contender_results(log, catalog, windows, params, features)
    contender, champion_ndcg = None, None
    if champion is None:
        selection = select({p: results[p]["validation"] for p in PROTOCOLS})
    else:
        champion_params = TrainingParams.from_dict(champion["metadata"]["params"])
        champion_contender = champion["metadata"].get("contender", "hybrid")
        refit = (results if champion_params == params else
                 _evaluate_protocols(log, catalog, windows, champion_params, ("validation",),
                                     features))
        selection = select({p: _with_champion(results[p]["validation"],
                                              refit[p]["validation"], champion_contender)
                            for p in PROTOCOLS})
        champion_ndcg = contender_ndcg(refit[headline_name]["validation"], champion_contender)
        if selection["winner"] == CHAMPION:  # keep the champion's settings, on newer data
            params, contender = champion_params, champion_contender
            results = {p: {"validation": refit[p]["validation"],
                           "test": _evaluate_on(log, catalog, windows, params, p, "test",
                                                features)}
                       for p in PROTOCOLS}
    contender = contender or selection["winner"]
    return {
        "windows": windows.describe(),
        "params": params.to_dict(),
        "protocol": headline_name,
        "protocol_reason": why,
        "protocols": results,
        "selection": selection,
        "contender": contender,
        "challenger_validation_ndcg@10": contender_ndcg(results[headline_name]["validation"],
                                                contender),
        "champion": champion and champion["tag"],
        "champion_validation_ndcg@10": champion_ndcg,
    }


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


def _with_champion(validation: dict, refit: dict, contender: str) -> dict:
    """`validation` with a `CHAMPION` row per target: the champion's contender, refit."""
    with_champion = {}
    for target in TARGETS:
        entry, row = validation[target], refit[target]["models"].get(contender)
        with_champion[target] = (entry if row is None else
                                 {**entry, "models": {**entry["models"], CHAMPION: row}})
    return with_champion


def _evaluate_protocols(log: EventLog, catalog: Catalog, windows: Windows,
                        params: TrainingParams, stages: tuple[str, ...], features: FeatureStore
                        ) -> dict:
    return {p: {stage: _evaluate_on(log, catalog, windows, params, p, stage, features)
                for stage in stages}
            for p in PROTOCOLS}


def headline(report: dict, stage: str) -> dict:
    """The headline protocol's evaluation of one stage (what tables and the gate show first)."""
    return report["protocols"][report["protocol"]][stage]


def contender_ndcg(evaluation: dict, contender: str) -> float | None:
    """`contender`'s NDCG@10 (target all) in one stage's evaluation; None when it has no row
    (the split judged nobody, or the contender could not compete)."""
    row = evaluation["all"]["models"].get(contender)
    return None if row is None else row[METRIC]


def _evaluate_on(log: EventLog, catalog: Catalog, windows: Windows, params: TrainingParams,
                 protocol: str, stage: str, features: FeatureStore) -> dict:
    split = protocol_split(log, windows, protocol, stage)
    try:
        model = train(log, catalog, split, params, features)
        skipped = {}
    except ValueError as error:  # no label to learn a re-ranker from: the sources still compete
        model = train(log, catalog, split, params, features, contender="popularity")
        skipped = {"hybrid": str(error)}
    return {**evaluate(model, split), "skipped": skipped}


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
