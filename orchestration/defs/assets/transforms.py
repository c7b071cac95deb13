"""Transforms: the dbt project, one Dagster asset per model, its tests as asset checks."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model

from orchestration.lib.dbt_project import transforms_project
from orchestration.lib.translator import TailorDbtTranslator


@dbt_assets(
    manifest=transforms_project.manifest_path,
    dagster_dbt_translator=TailorDbtTranslator(),
    pool="duckdb",
)
def transforms_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream().fetch_row_counts()


def mart_key(model: str) -> dg.AssetKey:
    return get_asset_key_for_model([transforms_dbt_assets], model)
