"""Models: tuning, every contender judged (an asset each), the selection, and the challenger refit
on all data.

`model_tuning`, the `contender_*` assets and `model_evaluation` (the selection) are reports: their
output (a JSON-able dict) is stored by the `model_reports` IO manager
(`<home>/reports/models/<asset>.json`) and loaded from there as the input of the asset downstream.
`challenger_model`'s output is the challenger itself, written as a bundle folder by the
`model_folders` IO manager (orchestration/lib/model_folders.py) and handed to the promotion gate
and `tailor_bundle` as a `ModelFolder`.
"""

from typing import Any, Literal

import dagster as dg

from ml.challenger import Challenger, build_challenger
from ml.evaluation.protocols import headline_protocol
from ml.evaluation.reports import (
    assemble,
    contender_ndcg,
    contender_view,
    headline,
    tuning_report,
)
from ml.ranking.contenders import contender_results, evaluation_report
from ml.ranking.hybrid import CONTENDERS
from ml.ranking.training import TrainingParams
from ml.ranking.tuning import TuningBudget, tune
from orchestration.defs.assets.transforms import POINT_IN_TIME_KEYS, mart_key
from orchestration.lib.env import code_version
from orchestration.lib.marts import challenger_marts, point_in_time, training_data
from orchestration.lib.model_store import ModelStore
from orchestration.lib.tables import metric_table
from orchestration.lib.warehouse import DuckDBWarehouse

# What the models read; the gated point-in-time features' blocking suites must pass before any
# model trains.
MODEL_INPUTS = [*(mart_key(m) for m in ("fct_interactions", "dim_products", "ml_temporal_split")),
                *POINT_IN_TIME_KEYS]
CHALLENGER_MARTS = [mart_key(m) for m in ("dim_customers", "ml_customer_segments",
                                          "ml_user_features", "ml_item_features",
                                          "event_type_weights")]


class ModelTuningConfig(dg.Config):
    # The headline protocol (ml/evaluation/protocols.py): tuning, the report's first tables and
    # the gate use it; auto picks it from the data; model selection always looks at both.
    protocol: Literal["auto", "calendar", "last_basket"] = "auto"
    # Optuna trials per study (ALS, item-kNN, EASE, sequence; the ranker) and seconds for all
    # of them (ml/ranking/tuning.py); each study's first trial is the starting settings.
    source_trials: int = TuningBudget.source_trials
    ranker_trials: int = TuningBudget.ranker_trials
    seconds: float = TuningBudget.seconds
    seed: int = TuningBudget.seed
    # Users each ranker trial learns from per fold; the settings found then train on all that
    # the ranker's max_groups allows.
    ranker_groups: int = TuningBudget.ranker_groups
    # Settings of the first trial that differ from the defaults, by stage, for example
    # {"ranker": {"rounds": 40}}; with one trial per stage they are trained as they are.
    start: dict[str, dict[str, Any]] = {}


@dg.asset(group_name="ranking", deps=MODEL_INPUTS, kinds={"implicit", "xgboost"}, pool="duckdb",
          io_manager_key="model_reports")
def model_tuning(
    context: dg.AssetExecutionContext, config: ModelTuningConfig, warehouse: DuckDBWarehouse
) -> dg.Output[dict]:
    """Optuna studies of each contender's settings on time folds of the headline protocol's
    validation split."""
    log, catalog, windows = training_data(warehouse)
    protocol, why = headline_protocol(log, windows, config.protocol)
    context.log.info(f"headline protocol {protocol} ({why})")
    budget = TuningBudget(config.source_trials, config.ranker_trials, config.seconds, config.seed,
                          config.ranker_groups)
    start = TrainingParams().with_changes(config.start)
    best, trials = tune(log, catalog, windows, protocol, start, budget, point_in_time(warehouse),
                        progress=context.log.info)
    report = tuning_report(best, trials, windows, protocol, requested=config.protocol)
    return dg.Output(report, metadata={"trials": len(trials), "best_params": report["best"],
                                       "protocol": protocol})


# One asset per contender (ml.ranking.hybrid.CONTENDERS): what competed, in the graph.
CONTENDER_KEYS = {name: f"contender_{name}" for name in CONTENDERS}


@dg.multi_asset(
    group_name="ranking",
    pool="duckdb",
    outs={key: dg.AssetOut(io_manager_key="model_reports", kinds={"implicit", "xgboost"},
                           description=f"The {name} contender with the tuned settings, judged on "
                           "the validation and test splits of both protocols.")
          for name, key in CONTENDER_KEYS.items()},
)
def contenders(model_tuning: dict, warehouse: DuckDBWarehouse):
    """Every contender fit with the tuned settings on the validation and test splits of both
    protocols: one fit per split serves them all (the sources share the candidate index, the
    hybrid adds its re-ranker). Each contender's evaluation is an asset of its own, its NDCG@10
    per split in its metadata."""
    log, catalog, windows = training_data(warehouse)
    results = contender_results(log, catalog, windows,
                                TrainingParams.from_dict(model_tuning["best"]),
                                point_in_time(warehouse))
    for name, key in CONTENDER_KEYS.items():
        view = contender_view(results, name)
        yield dg.Output(view, output_name=key, metadata=contender_metadata(view))


def contender_metadata(view: dict) -> dict:
    """"<stage> <protocol>/<target> ndcg@10" for every split the contender competed in."""
    return {f"{stage} {protocol}/{target} ndcg@10": entry[target]["metrics"]["ndcg@10"]
            for protocol, stages in view["protocols"].items()
            for stage, entry in stages.items()
            for target in ("all", "new") if entry[target]["metrics"] is not None}


@dg.asset(group_name="ranking", ins={key: dg.AssetIn(key) for key in CONTENDER_KEYS.values()},
          kinds={"xgboost"}, pool="duckdb", io_manager_key="model_reports")
def model_evaluation(
    model_tuning: dict, warehouse: DuckDBWarehouse, model_store: ModelStore, **contenders: dict
) -> dg.Output[dict]:
    """Model selection: every contender's evaluation together, the champion's settings refit on
    the same validation splits competing with them, and the winner (the challenger's contender)."""
    log, catalog, windows = training_data(warehouse)
    params = TrainingParams.from_dict(model_tuning["best"])
    report = evaluation_report(log, catalog, windows, params, point_in_time(warehouse),
                               model_store.champion(),
                               model_tuning["protocol_requested"],
                               results=assemble(list(contenders.values())))
    return dg.Output(report, metadata=evaluation_metadata(report))


def evaluation_metadata(report: dict) -> dict:
    test = headline(report, "test")
    metadata = {
        "protocol": report["protocol"],
        "contender": report["contender"],
        "selection": report["selection"]["reason"],
        "test_table": dg.MetadataValue.md(metric_table(test)),
        "validation_table": dg.MetadataValue.md(metric_table(headline(report, "validation"))),
    }
    served = contender_ndcg(test, report["contender"])
    if served is not None:  # absent when the test split judged nobody
        metadata["contender_test_ndcg@10"] = served
    if report["champion"] is not None:  # absent, not a placeholder, when there is none
        metadata["champion"] = report["champion"]
        metadata["champion_validation_ndcg@10"] = report["champion_validation_ndcg@10"]
    return metadata


@dg.asset(group_name="ranking", deps=CHALLENGER_MARTS, kinds={"implicit", "xgboost"},
          pool="duckdb", io_manager_key="model_folders")
def challenger_model(
    context: dg.AssetExecutionContext, model_evaluation: dict, warehouse: DuckDBWarehouse
) -> dg.Output[Challenger]:
    """The evaluated settings refit on everything up to as_of: the bundle serving would load."""
    log, catalog, windows = training_data(warehouse)
    challenger = build_challenger(log, catalog, windows, model_evaluation,
                                  challenger_marts(warehouse), point_in_time(warehouse),
                                  context.run.run_id, code_version())
    card = challenger.card
    return dg.Output(challenger, metadata={"version": card["version"],
                                           "contender": card["contender"],
                                           "code_version": card["code_version"]})
