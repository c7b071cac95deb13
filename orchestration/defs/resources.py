"""Bindings of resource keys to a home's warehouse, dbt project, report folder and model stores."""


import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.lib.dbt_project import transforms_project
from orchestration.lib.env import TailorHome, configure_environment
from orchestration.lib.experiments import ExperimentFiles
from orchestration.lib.model_folders import ModelFolderIOManager
from orchestration.lib.model_store import ModelStore
from orchestration.lib.reports import JsonReportIOManager, ReportStore
from orchestration.lib.stream import EventStreamResource
from orchestration.lib.warehouse import DuckDBWarehouse
from serving.settings import environment
from serving.stream.local_redis import local_url


def resources_for(home: TailorHome) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": DuckDBWarehouse(path=str(home.warehouse)),
        "dbt": DbtCliResource(project_dir=transforms_project, target="local"),
        "reports": ReportStore(root=str(home.reports)),
        # model_tuning, contender_*, model_evaluation, tailor_bundle: <reports>/models/<asset>.json
        "model_reports": JsonReportIOManager(folder=str(home.reports / "models")),
        # challenger_model: the bundle folder, <artifacts>/challengers/<run id>/
        "model_folders": ModelFolderIOManager(artifacts=str(home.artifacts)),
        "model_store": ModelStore(bentoml_home=str(home.bentoml)),
        "experiment_files": ExperimentFiles(definitions=str(home.experiments),
                                            published=str(home.published_experiments),
                                            reports=str(home.reports / "experiments")),
        # the service's event stream: the shop's Redis, else the one `tailor serve` starts
        "event_stream": EventStreamResource(url=environment().redis_url or local_url(home.root)),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resources_for(configure_environment()))
