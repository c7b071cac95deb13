"""The contenders judged: the tuned settings fit on the validation and test splits of both
protocols (one fit per split serves every contender), every contender evaluated, and the
evaluation report with the selection, in which the serving model's settings, refit, compete too.
Model fitting lives here, above `ml.evaluation` (metrics, protocols, the selection rule, the
report shapes), which never fits a model."""

from __future__ import annotations

from ml.data import Catalog, EventLog, Windows
from ml.evaluation.protocols import (
    PROTOCOLS,
    STAGES,
    TARGETS,
    headline_protocol,
    protocol_split,
)
from ml.evaluation.reports import contender_ndcg
from ml.evaluation.selection import CHAMPION, select
from ml.point_in_time import FeatureStore
from ml.ranking.hybrid import CONTENDERS
from ml.ranking.training import TrainingParams, evaluate, train


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
        selection = select({p: results[p]["validation"] for p in PROTOCOLS}, CONTENDERS)
    else:
        champion_params = TrainingParams.from_dict(champion["metadata"]["params"])
        champion_contender = champion["metadata"].get("contender", "hybrid")
        refit = (results if champion_params == params else
                 _evaluate_protocols(log, catalog, windows, champion_params, ("validation",),
                                     features))
        selection = select({p: _with_champion(results[p]["validation"],
                                              refit[p]["validation"], champion_contender)
                            for p in PROTOCOLS}, CONTENDERS)
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
