"""Models: tuning, honest evaluation beside the baselines, and the challenger refit on all data."""

from datetime import datetime
from typing import Any

import dagster as dg

from ml.bundle import save_bundle
from ml.consent import save_consent
from ml.data import Catalog, EventLog, Windows
from ml.monitoring import REFERENCE_DIR, build_reference
from ml.training import TrainingParams, TuningBudget, evaluate, train_hybrid, tune
from orchestration.defs.assets.transforms import mart_key
from orchestration.lib.env import code_version
from orchestration.lib.model_store import ModelStore
from orchestration.lib.reports import ReportStore
from orchestration.lib.warehouse import DuckDBWarehouse

# The gated feature marts come first: their blocking suites must pass before any model trains.
MODEL_INPUTS = [
    mart_key(m)
    for m in (
        "fct_interactions",
        "dim_products",
        "ml_temporal_split",
        "ml_user_item_interactions",
        "ml_user_features",
        "ml_item_features",
    )
]


class ModelTuningConfig(dg.Config):
    als_trials: int = 4
    ranker_trials: int = 4
    seed: int = 7
    # Settings of the first trial that differ from the defaults, by stage, for example
    # {"ranker": {"rounds": 40}}; with one trial per stage they are trained as they are.
    start: dict[str, dict[str, Any]] = {}


def load_training_data(warehouse: DuckDBWarehouse) -> tuple[EventLog, Catalog, Windows]:
    catalog = Catalog.from_products(warehouse.read_table("main.dim_products"))
    log = EventLog.from_interactions(warehouse.read_table("main.fct_interactions"), catalog)
    return log, catalog, Windows.from_split(warehouse.read_table("main.ml_temporal_split"))


@dg.asset(group_name="ranking", deps=MODEL_INPUTS, kinds={"implicit", "xgboost"}, pool="duckdb")
def model_tuning(
    context: dg.AssetExecutionContext,
    config: ModelTuningConfig,
    warehouse: DuckDBWarehouse,
    reports: ReportStore,
) -> dg.MaterializeResult:
    """Random search of ALS and ranker hyperparameters on the validation window."""
    log, catalog, windows = load_training_data(warehouse)
    budget = TuningBudget(config.als_trials, config.ranker_trials, config.seed)
    start = TrainingParams().with_changes(config.start)
    best, trials = tune(log, catalog, windows, start, budget, progress=context.log.info)
    path = reports.write_json(
        "models",
        "tuning",
        {"best": best.to_dict(), "trials": trials, "windows": windows.describe()},
    )
    return dg.MaterializeResult(
        metadata={
            "trials": len(trials),
            "best_params": best.to_dict(),
            "report": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(group_name="ranking", deps=[model_tuning], kinds={"xgboost"}, pool="duckdb")
def model_evaluation(
    warehouse: DuckDBWarehouse, reports: ReportStore, model_store: ModelStore
) -> dg.MaterializeResult:
    """Hybrid vs popularity, repeat-purchase and ALS alone, on the validation and test windows,
    in both protocols; and the champion's settings refit on the same validation window."""
    log, catalog, windows = load_training_data(warehouse)
    params = TrainingParams.from_dict(reports.read_json("models", "tuning")["best"])
    validation = evaluate(
        train_hybrid(log, catalog, windows.validation_start, windows.validation_days, params),
        log,
        windows.test_start,
    )
    test = evaluate(
        train_hybrid(log, catalog, windows.test_start, windows.validation_days, params),
        log,
        windows.as_of,
    )
    # The champion is judged on this same validation window: its settings refit on this data.
    champion = model_store.champion()
    champion_ndcg = None
    if champion is not None:
        champion_params = TrainingParams.from_dict(champion["metadata"]["params"])
        champion_validation = (
            validation
            if champion_params == params
            else evaluate(
                train_hybrid(
                    log, catalog, windows.validation_start, windows.validation_days, champion_params
                ),
                log,
                windows.test_start,
            )
        )
        champion_ndcg = champion_validation["all"]["models"]["hybrid"]["ndcg@10"]
    report = {
        "windows": windows.describe(),
        "params": params.to_dict(),
        "validation": validation,
        "test": test,
        "champion": champion and champion["tag"],
        "champion_validation_ndcg@10": champion_ndcg,
    }
    path = reports.write_json("models", "evaluation", report)
    return dg.MaterializeResult(
        metadata={
            "test_table": dg.MetadataValue.md(metric_table(test)),
            "validation_table": dg.MetadataValue.md(metric_table(validation)),
            "hybrid_test_ndcg@10": test["all"]["models"]["hybrid"]["ndcg@10"],
            "report": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    group_name="ranking", deps=[model_evaluation], kinds={"implicit", "xgboost"}, pool="duckdb"
)
def challenger_model(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBWarehouse,
    reports: ReportStore,
    model_store: ModelStore,
) -> dg.MaterializeResult:
    """The evaluated settings refit on everything up to as_of: the bundle serving would load."""
    log, catalog, windows = load_training_data(warehouse)
    evaluation = reports.read_json("models", "evaluation")
    params = TrainingParams.from_dict(evaluation["params"])
    # The ranker learns from the latest window; the index sees every event up to as_of.
    model = train_hybrid(log, catalog, windows.as_of + 1, windows.test_days, params)
    as_of = datetime.utcfromtimestamp(windows.as_of)
    card = {
        "version": f"{as_of:%Y%m%d}-{context.run.run_id[:8]}",
        "run_id": context.run.run_id,
        "code_version": code_version(),
        "trained_at": datetime.utcnow().isoformat(timespec="seconds"),
        "data_window": {
            "first_event": datetime.utcfromtimestamp(float(log.time.min())).isoformat(),
            **windows.describe(),
        },
        "params": params.to_dict(),
        "validation": evaluation["validation"],
        "test": evaluation["test"],
        "users": int(log.n_users),
        "items": int(catalog.size),
        "events": len(log),
    }
    folder = save_bundle(model, model_store.challenger_folder(context.run.run_id), card)
    # Serving honours consent and offers per segment from the same snapshot the model was fit on.
    save_consent(warehouse.read_table("main.dim_customers"), folder)
    warehouse.read_table("main.ml_customer_segments")[["user_id", "segment"]].to_parquet(
        folder / "segments.parquet", index=False
    )
    # The model carries its own drift reference: the marts, predictions and outcomes it was fit on.
    build_reference(
        model,
        warehouse.read_table("main.ml_user_features"),
        warehouse.read_table("main.ml_item_features"),
        warehouse.read_table("main.fct_interactions"),
        as_of,
    ).save(folder / REFERENCE_DIR)
    return dg.MaterializeResult(
        metadata={
            "version": card["version"],
            "folder": str(folder),
            "code_version": card["code_version"],
        }
    )


def metric_table(report: dict) -> str:
    lines = [
        "| protocol | model | NDCG@10 | Recall@10 | Recall@20 | MAP@10 | HitRate@10 | coverage "
        "| users |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for protocol, block in report.items():
        for name, m in block["models"].items():
            lines.append(
                f"| {protocol} | {name} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | "
                f"{m['recall@20']:.4f} | {m['map@10']:.4f} | {m['hit_rate@10']:.4f} | "
                f"{m['coverage@10']:.4f} | {m['users']} |"
            )
    return "\n".join(lines)
