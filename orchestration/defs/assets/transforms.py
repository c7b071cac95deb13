"""Transforms: the dbt project, one Dagster asset per model, its tests as asset checks.

Two dbt steps: the warehouse (staging, intermediate, marts) and, once the `feature_cutoffs` asset
has written which cutoffs the models need, the point-in-time features (models/features).
"""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model

from ml.point_in_time import TABLES
from orchestration.lib.dbt_project import transforms_project
from orchestration.lib.translator import TailorDbtTranslator
from orchestration.lib.warehouse import DuckDBWarehouse

POINT_IN_TIME = "tag:point_in_time"  # models/features (dbt_project.yml)


@dbt_assets(
    manifest=transforms_project.manifest_path,
    dagster_dbt_translator=TailorDbtTranslator(),
    exclude=POINT_IN_TIME,
    pool="duckdb",
)
def transforms_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBWarehouse
):
    yield from _build(context, dbt, warehouse)


@dbt_assets(
    manifest=transforms_project.manifest_path,
    dagster_dbt_translator=TailorDbtTranslator(),
    select=POINT_IN_TIME,
    pool="duckdb",
)
def point_in_time_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBWarehouse
):
    yield from _build(context, dbt, warehouse)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBWarehouse):
    # The dbt process holds the DuckDB file while it runs, so row counts are read once it is done
    # (dagster-dbt's own fetch_row_counts opens a second, incompatible in-process connection).
    events = list(dbt.cli(["build"], context=context).stream())
    counts = warehouse.row_counts()
    for event in events:
        if isinstance(event, dg.Output | dg.AssetMaterialization):
            relation = f"main.{event.output_name if isinstance(event, dg.Output) else ''}"
            if relation in counts:
                event = event.with_metadata(
                    {**event.metadata, "dagster/row_count": counts[relation]}
                )
        yield event


def mart_key(model: str) -> dg.AssetKey:
    # dagster-dbt looks the model up in the whole manifest: either dbt step answers for any model.
    return get_asset_key_for_model([transforms_dbt_assets], model)


# The point-in-time feature tables (ml.point_in_time.TABLES): what every model step reads.
POINT_IN_TIME_KEYS = [mart_key(table) for table in TABLES.values()]
