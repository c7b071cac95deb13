"""Monitoring: Evidently drift reports of the newest data against the serving model's reference.

Each report takes `tailor_bundle`'s output, the model serving now (tag, version, folder), as its
input: the graph shows which model a report judged, and its metadata names the version. The
reference travels inside that model's bundle (saved with the challenger), so a report always
compares with what the serving model was trained on. Reports land under `<reports>/drift/runs/<run
id>/` (Evidently HTML and JSON per table, plus our summary); `<reports>/drift/<report>.json` is
the latest summary, which `tailor status` and the governance page read. `retrain_on_drift_sensor`
reads `feature_drift_report`'s metadata.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from ml.bundle import load_bundle
from ml.monitoring import (
    DriftResult,
    MonitoringParams,
    ReferenceSnapshot,
    champion_on_current_data,
    drift_payload,
    feature_drift,
    load_reference,
    no_reference_payload,
    prediction_drift,
    prediction_sample,
    target_drift,
)
from orchestration.defs.assets.transforms import POINT_IN_TIME_KEYS, mart_key
from orchestration.lib.marts import point_in_time, training_data
from orchestration.lib.reports import ReportStore
from orchestration.lib.tables import drift_column_table
from orchestration.lib.warehouse import DuckDBWarehouse

DEFAULTS = MonitoringParams()
USER_FEATURES, ITEM_FEATURES = mart_key("ml_user_features"), mart_key("ml_item_features")
INTERACTIONS, SPLIT = mart_key("fct_interactions"), mart_key("ml_temporal_split")


class MonitoringConfig(dg.Config):
    window_days: int = DEFAULTS.window_days  # the newest window: active users, sessions
    column_threshold: float = DEFAULTS.column_threshold  # distance at which a column drifts

    def to_params(self, **extra) -> MonitoringParams:
        return MonitoringParams(
            window_days=self.window_days, column_threshold=self.column_threshold, **extra
        )


class FeatureDriftReportConfig(MonitoringConfig):
    # Share of drifted feature columns at which retrain_on_drift_sensor requests retraining.
    retrain_threshold: float = DEFAULTS.retrain_threshold


class PredictionDriftReportConfig(MonitoringConfig):
    sample_users: int = DEFAULTS.sample_users


class TargetDriftReportConfig(MonitoringConfig):
    pass


@dg.asset(
    group_name="monitoring", deps=[USER_FEATURES, ITEM_FEATURES], kinds={"evidently"}, pool="duckdb"
)
def feature_drift_report(
    context: dg.AssetExecutionContext,
    config: FeatureDriftReportConfig,
    warehouse: DuckDBWarehouse,
    reports: ReportStore,
    tailor_bundle: dict,
) -> dg.MaterializeResult:
    """Drift of the feature marts (active users, catalog items) from the champion's reference."""
    params = config.to_params(retrain_threshold=config.retrain_threshold)
    champion, reference = tailor_bundle, load_reference(Path(tailor_bundle["path"]))
    if reference is None:
        return no_reference(context, reports, "feature_drift", champion, params)
    result = feature_drift(
        reference,
        warehouse.read_table("main.ml_user_features"),
        warehouse.read_table("main.ml_item_features"),
        params,
    )
    return persist(context, reports, result, champion, reference, warehouse, params)


@dg.asset(
    group_name="monitoring",
    deps=[INTERACTIONS, SPLIT, USER_FEATURES, mart_key("dim_products"),
          *POINT_IN_TIME_KEYS],
    kinds={"evidently", "xgboost"},
    pool="duckdb",
)
def prediction_drift_report(
    context: dg.AssetExecutionContext,
    config: PredictionDriftReportConfig,
    warehouse: DuckDBWarehouse,
    reports: ReportStore,
    tailor_bundle: dict,
) -> dg.MaterializeResult:
    """Re-ranker scores, recommended categories and sources: the champion at training time vs
    the champion's ranker on today's candidates."""
    params = config.to_params(sample_users=config.sample_users)
    champion, reference = tailor_bundle, load_reference(Path(tailor_bundle["path"]))
    if reference is None:
        return no_reference(context, reports, "prediction_drift", champion, params)
    bundle = load_bundle(Path(champion["path"]))
    log, catalog, windows = training_data(warehouse)
    model = champion_on_current_data(
        bundle.model, bundle.metadata["params"], log, catalog, windows.as_of,
        point_in_time(warehouse),
    )
    current = prediction_sample(model, warehouse.read_table("main.ml_user_features"), params)
    result = prediction_drift(reference, current, params)
    return persist(context, reports, result, champion, reference, warehouse, params)


@dg.asset(group_name="monitoring", deps=[INTERACTIONS, SPLIT], kinds={"evidently"}, pool="duckdb")
def target_drift_report(
    context: dg.AssetExecutionContext,
    config: TargetDriftReportConfig,
    warehouse: DuckDBWarehouse,
    reports: ReportStore,
    tailor_bundle: dict,
) -> dg.MaterializeResult:
    """Session add-to-cart and conversion rates: the reference's last window vs the newest one."""
    params = config.to_params()
    champion, reference = tailor_bundle, load_reference(Path(tailor_bundle["path"]))
    if reference is None:
        return no_reference(context, reports, "target_drift", champion, params)
    interactions = warehouse.read_table("main.fct_interactions")
    result = target_drift(reference, interactions, current_as_of(warehouse), params)
    return persist(context, reports, result, champion, reference, warehouse, params)


def current_as_of(warehouse: DuckDBWarehouse) -> pd.Timestamp:
    return pd.Timestamp(warehouse.read_table("main.ml_temporal_split")["as_of"].iloc[0])


def persist(
    context: dg.AssetExecutionContext,
    reports: ReportStore,
    result: DriftResult,
    champion: dict,
    reference: ReferenceSnapshot,
    warehouse: DuckDBWarehouse,
    params: MonitoringParams,
) -> dg.MaterializeResult:
    """Evidently's files and our summary under drift/runs/<run id>/; the summary as the latest."""
    summary = result.summary
    folder = Path(reports.root) / "drift" / "runs" / context.run.run_id
    files = result.save(folder)
    payload = drift_payload(result, context.run.run_id, champion, params, reference.as_of,
                            current_as_of(warehouse), files)
    path = folder / f"{summary.report}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    reports.write_json("drift", summary.report, payload)  # the latest, for status and governance
    context.log.info(f"{summary.report}: {summary.describe()}")
    return dg.MaterializeResult(
        metadata={
            "status": "ok",
            "drift_share": summary.drift_share,
            "n_drifted": len(summary.drifted_columns),
            "n_columns": summary.n_columns,
            "drifted_columns": ", ".join(summary.drifted_columns) or "none",
            "methods": "; ".join(f"{k}: {v}" for k, v in summary.methods.items()),
            "column_threshold": summary.column_threshold,
            "retrain_threshold": params.retrain_threshold,
            "dataset_drift": payload["dataset_drift"],
            "window_days": params.window_days,
            "reference_model": champion["tag"],
            "reference_version": champion["version"],
            "rows": summary.rows,
            "stats": summary.stats,
            "html": dg.MetadataValue.path(str(folder / (files["html"] or [""])[0])),
            "summary": dg.MetadataValue.path(str(path)),
            "columns": dg.MetadataValue.md(drift_column_table(summary.to_dict()["columns"])),
        }
    )


def no_reference(
    context: dg.AssetExecutionContext,
    reports: ReportStore,
    report: str,
    champion: dict | None,
    params: MonitoringParams,
) -> dg.MaterializeResult:
    """Nothing to compare with yet: no champion, or one trained before references existed."""
    payload = no_reference_payload(report, context.run.run_id, champion, params)
    latest = reports.write_json("drift", report, payload)
    return dg.MaterializeResult(
        metadata={
            "status": "no_reference",
            "reason": payload["reason"],  # no drift_share entry: nothing was compared
            "retrain_threshold": params.retrain_threshold,
            "summary": dg.MetadataValue.path(str(latest)),
        }
    )

