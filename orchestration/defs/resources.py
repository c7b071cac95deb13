"""Bindings of resource keys to this home's warehouse, dbt project and report folder."""


import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.lib.dbt_project import transforms_project
from orchestration.lib.env import configure_environment
from orchestration.lib.reports import ReportStore
from orchestration.lib.warehouse import DuckDBWarehouse


@dg.definitions
def resources() -> dg.Definitions:
    home = configure_environment()
    return dg.Definitions(
        resources={
            "warehouse": DuckDBWarehouse(path=str(home.warehouse)),
            "dbt": DbtCliResource(project_dir=transforms_project, target="local"),
            "reports": ReportStore(root=str(home.reports)),
        }
    )
