"""Blocking data-quality gates: a Great Expectations suite per raw table and per table the models
read (the point-in-time features, and the marts of the drift reference), and
the share of each raw table's rows that validation quarantined.

A failing gate fails its check with severity ERROR, and Dagster then skips every asset downstream,
so training and deployment never see data that broke a gate; what was built before keeps serving.
Thresholds are `DataGateConfig` (run config of each check; docs/data-contract.md, "Gates").
"""


import dagster as dg
import pandas as pd

from expectations.suites import SUITES, quarantine_breaches
from expectations.validate import run_suite
from ml.evaluation.protocols import SERVE_KEY
from ml.point_in_time import TABLES
from ml.schema import RAW_TABLES
from orchestration.defs.assets.transforms import mart_key
from orchestration.lib.reports import ReportStore
from orchestration.lib.shop_settings import DataGateConfig
from orchestration.lib.warehouse import DuckDBWarehouse

# Suite name -> (the asset it gates, the relation it reads).
GATED_TABLES: dict[str, tuple[dg.AssetKey, str]] = {
    "raw_events": (dg.AssetKey("raw_events"), "raw.events"),
    "raw_products": (dg.AssetKey("raw_products"), "raw.products"),
    "raw_customers": (dg.AssetKey("raw_customers"), "raw.customers"),
    # What the models read: the served fit's rows (every other cutoff's rows are the same
    # definition over fewer events).
    **{
        table: (mart_key(table),
                f"(select * from main.{table} where cutoff_id = '{SERVE_KEY}')")
        for table in TABLES.values()
    },
    # What the challenger's drift reference is taken from.
    **{mart: (mart_key(mart), f"main.{mart}") for mart in ("ml_user_features", "ml_item_features")},
}

# How a shop changes a threshold, said in every failing gate's description.
HOW_TO_CHANGE = ("thresholds: the [gates] table of the settings file (`tailor run --config FILE`; "
                 "docs/settings.md)")


def suite_check(suite_name: str, asset: dg.AssetKey, relation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{suite_name}_pass_suite",
        blocking=True,
        pool="duckdb",  # reads the warehouse: one process at a time holds the DuckDB file
        description=f"Great Expectations suite `{suite_name}` on {relation}; blocks downstream.",
    )
    def _check(
        config: DataGateConfig, warehouse: DuckDBWarehouse, reports: ReportStore
    ) -> dg.AssetCheckResult:
        frame = warehouse.read_table(relation)
        params = config.to_params(warehouse.as_of())
        summary = run_suite(SUITES[suite_name](params), frame, data_docs_dir=reports.data_docs)
        reports.write_json("data_quality", suite_name, summary.to_dict())
        return dg.AssetCheckResult(
            passed=summary.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(f"{summary.describe_failures()}; {HOW_TO_CHANGE}" if not summary.success
                         else "all expectations met"),
            metadata={
                "evaluated_expectations": summary.evaluated,
                "successful_expectations": summary.successful,
                "rows": summary.rows,
                "data_docs": dg.MetadataValue.path(summary.data_docs_index or ""),
            },
        )

    return _check


def quarantine_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(f"raw_{table}"),
        name=f"raw_{table}_quarantine_within_limits",
        blocking=True,
        pool="duckdb",
        description=f"The share of {table} rows quarantined (raw.quarantine), by reason and in "
        "all, is within DataGateConfig's limits; blocks downstream.",
    )
    def _check(config: DataGateConfig, warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
        raw_rows = warehouse.raw_rows(table)
        quarantine = warehouse.quarantine_by_reason(table)
        by_reason = dict(zip(quarantine["reason"], quarantine["rows"].astype(int), strict=True))
        params = config.to_params(warehouse.as_of())
        breaches = quarantine_breaches(raw_rows, by_reason, params)
        quarantined = sum(by_reason.values())
        return dg.AssetCheckResult(
            passed=not breaches,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(f"{_breach_text(breaches, quarantine)}; {HOW_TO_CHANGE}" if breaches
                         else f"{quarantined:,} of {raw_rows:,} rows quarantined, within the "
                         "limits"),
            metadata={
                "raw_rows": raw_rows,
                "quarantined_rows": quarantined,
                "quarantined_share": quarantined / raw_rows if raw_rows else 0.0,
                "quarantined_by_reason": by_reason,
                "max_quarantine_share": params.max_quarantine_share,
                "max_quarantine_share_per_reason": params.max_quarantine_share_per_reason,
                "max_quarantine_share_by_reason": dict(params.max_quarantine_share_by_reason),
            },
        )

    return _check


def _breach_text(breaches: dict[str, str], quarantine: pd.DataFrame) -> str:
    """Each broken limit, with the first quarantined row of its reason (what to fix first)."""
    first = quarantine.set_index("reason")
    return "; ".join(
        text
        + (
            f" (first at row {first.at[reason, 'first_row']}: {first.at[reason, 'first_detail']})"
            if reason in first.index
            else ""
        )
        for reason, text in breaches.items()
    )


def data_gate_op_config(
    thresholds: dict, job: dg.JobDefinition | None = None
) -> dict[str, dict]:
    """`run_pipeline(op_config=...)` entries that give every data gate the same thresholds
    (DataGateConfig fields, e.g. {"min_events": 10}); a bad name fails when the run starts.
    With `job`, only the gates it runs: Dagster refuses config for an op a job lacks."""
    names = [check.node_def.name for check in suite_checks + quarantine_checks]
    if job is not None:
        names = [name for name in names if job.graph.has_node_named(name)]
    return {name: dict(thresholds) for name in names}


def settings_op_config(job: dg.JobDefinition) -> dict[str, dict]:
    """The op config the home's settings file gives `job`: its [gates] to each of the job's
    gates, its [tuning] to model_tuning (`run_pipeline`, the retrain sensor and schedule)."""
    from orchestration.lib.shop_settings import home_settings

    settings = home_settings()
    ops = data_gate_op_config(settings.gate_thresholds(), job)
    if job.graph.has_node_named("model_tuning"):
        ops["model_tuning"] = settings.tuning.op_config()
    return ops


suite_checks = [
    suite_check(name, asset, relation) for name, (asset, relation) in GATED_TABLES.items()
]
quarantine_checks = [quarantine_check(table) for table in RAW_TABLES]
