"""Blocking data-quality gates: a Great Expectations suite per raw table and per feature mart.

A failing suite fails its check with severity ERROR, and Dagster then skips every asset downstream,
so training and deployment never see data that broke a suite; what was built before keeps serving.
"""

import dagster as dg

from expectations.suites import SUITES, SuiteParams
from expectations.validate import run_suite
from orchestration.defs.assets.transforms import mart_key
from orchestration.lib.reports import ReportStore
from orchestration.lib.warehouse import DuckDBWarehouse

# Suite name -> (the asset it gates, the relation it reads).
GATED_TABLES: dict[str, tuple[dg.AssetKey, str]] = {
    "raw_events": (dg.AssetKey("raw_events"), "raw.events"),
    "raw_products": (dg.AssetKey("raw_products"), "raw.products"),
    "raw_customers": (dg.AssetKey("raw_customers"), "raw.customers"),
    **{
        mart: (mart_key(mart), f"main.{mart}")
        for mart in ("ml_user_item_interactions", "ml_user_features", "ml_item_features")
    },
}


def suite_check(suite_name: str, asset: dg.AssetKey, relation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{suite_name}_pass_suite",
        blocking=True,
        pool="duckdb",  # reads the warehouse: one process at a time holds the DuckDB file
        description=f"Great Expectations suite `{suite_name}` on {relation}; blocks downstream.",
    )
    def _check(warehouse: DuckDBWarehouse, reports: ReportStore) -> dg.AssetCheckResult:
        frame = warehouse.read_table(relation)
        params = SuiteParams(as_of=warehouse.as_of())
        summary = run_suite(SUITES[suite_name](params), frame, data_docs_dir=reports.data_docs)
        reports.write_json("data_quality", suite_name, summary.to_dict())
        return dg.AssetCheckResult(
            passed=summary.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=summary.describe_failures() or "all expectations met",
            metadata={
                "evaluated_expectations": summary.evaluated,
                "successful_expectations": summary.successful,
                "rows": summary.rows,
                "data_docs": dg.MetadataValue.path(summary.data_docs_index or ""),
            },
        )

    return _check


suite_checks = [
    suite_check(name, asset, relation) for name, (asset, relation) in GATED_TABLES.items()
]
