"""Experiments: the registry of their definitions, and one report per experiment.

`experiment_registry` checks `<home>/experiments.yaml` against every version the warehouse
recorded (a started experiment refuses a new salt, new weights or a new question: the run fails
naming the field, and the service keeps the experiments it had), records what changed, publishes
the file the service reads, and adds one partition of `experiment_report` per experiment.

`experiment_report` (partitioned by experiment; daily, `experiment_reports_daily_schedule`) joins
the service's exposures (raw.exposures) with the shop's events (raw.events) into one row per
visitor, tests every KPI of every arm against control, checks the sample ratio, and writes
`<reports>/experiments/<name>.json` and `.html` (linked from the governance page).
"""

from datetime import datetime, timedelta

import dagster as dg
import pandas as pd

from ml.experiments.analysis import PRE_PERIOD_DAYS, analyse
from orchestration.lib.experiment_page import write_experiment_page
from orchestration.lib.experiments import (
    PARTITIONS,
    ExperimentFiles,
    events_since,
    exposures_of,
    recorded,
    register,
)
from orchestration.lib.reports import ReportStore, write_json
from orchestration.lib.warehouse import DuckDBWarehouse


@dg.asset(group_name="experiments", kinds={"duckdb"}, pool="duckdb")
def experiment_registry(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
                        experiment_files: ExperimentFiles) -> dg.MaterializeResult:
    """The checked experiment definitions: recorded in experiments.definitions, published for
    the service, one experiment_report partition each."""
    now = datetime.utcnow()
    definitions = experiment_files.read()
    changed = register(warehouse, definitions, now)
    version = experiment_files.publish(definitions)
    names = [e.name for e in definitions.experiments]
    new = [n for n in names if not context.instance.has_dynamic_partition(PARTITIONS.name, n)]
    if new:
        context.instance.add_dynamic_partitions(PARTITIONS.name, new)
    return dg.MaterializeResult(metadata={
        "version": version, "experiments": names, "changed": changed,
        "running": [e.name for e in definitions.experiments if e.running(now)],
        "published": dg.MetadataValue.path(experiment_files.published)})


@dg.asset(group_name="experiments", partitions_def=PARTITIONS, kinds={"duckdb"}, pool="duckdb",
          deps=["experiment_registry", "raw_exposures", "raw_events"])
def experiment_report(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse,
                      experiment_files: ExperimentFiles, reports: ReportStore
                      ) -> dg.MaterializeResult:
    """One experiment's KPIs per arm with intervals, SRM status and verdict (JSON and HTML)."""
    name = context.partition_key
    experiment = recorded(warehouse).named(name)
    if experiment is None:
        raise dg.Failure(f"experiment: {name} is not in experiments.definitions (materialize "
                         "experiment_registry first)")
    as_of = datetime.utcnow()
    exposures = exposures_of(warehouse, name)
    since = experiment.start_at - timedelta(days=PRE_PERIOD_DAYS)
    events = events_since(warehouse, since)
    report = analyse(experiment, exposures, events, as_of)
    json_path = write_json(experiment_files.report_path(name, "json"), report)
    html = write_experiment_page(report, experiment_files.report_path(name, "html"),
                                 reports.root_path)
    primary = next((c for c in report["comparisons"] if c["role"] == "primary"), None)
    metadata = {"status": report["status"], "visitors": report["visitors"],
                "srm_p_value": report["srm"]["p_value"] if report["srm"] else None,
                "verdicts": {a: v["decision"] for a, v in report["verdicts"].items()},
                "report": dg.MetadataValue.path(str(html)),
                "json": dg.MetadataValue.path(str(json_path))}
    if primary is not None:
        metadata.update({"primary_kpi": primary["kpi"], "relative_lift": primary["relative_lift"],
                         "p_value": primary["p_value"]})
        metadata["kpis"] = dg.MetadataValue.md(pd.DataFrame(report["comparisons"])[
            ["kpi", "arm", "control", "treatment", "relative_lift", "p_value"]].to_markdown(
                index=False))
    return dg.MaterializeResult(metadata=metadata)
