"""Run a job of the code location in this process, recorded in a home's Dagster instance.

The CLI and the integration tests go through here, so they exercise exactly the definitions that
`make ui` shows; the runs appear in the UI of the same home.
"""

from __future__ import annotations

import contextlib

import dagster as dg

from orchestration.lib.dbt_project import ensure_manifest
from orchestration.lib.env import TailorHome, configure_environment


def run_pipeline(
    home: TailorHome,
    raw_shop_data_config: dict | None = None,
    job_name: str = "build_tailor_job",
    op_config: dict[str, dict] | None = None,
    tags: dict[str, str] | None = None,
    assets: list[str] | None = None,
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    """`raw_shop_data_config` configures the source; `op_config` any other step (by op name).
    `assets`: materialize only these assets (and their checks), as the UI's "Materialize
    selected" does, instead of a job."""
    configure_environment(home)
    ensure_manifest()
    from orchestration.definitions import defs
    from orchestration.defs.checks import settings_op_config
    from orchestration.defs.resources import resources_for

    resources = resources_for(home)
    job = defs.resolve_job_def(job_name)
    if assets:  # a job of these assets and their checks, as the UI's "Materialize selected"
        selected = dg.define_asset_job("materialize_selected", dg.AssetSelection.assets(*assets))
        job = dg.Definitions(
            assets=defs.assets, asset_checks=defs.asset_checks, jobs=[selected],
            resources=resources, loggers=defs.loggers,
        ).resolve_job_def("materialize_selected")
    # The settings file's gates and tuning budget, under what the caller gives explicitly.
    op_config = {**settings_op_config(job), **(op_config or {})}
    # dagster-dbt echoes dbt's log to stdout; the terminal gets the progress lines instead.
    log_path = home.dbt_logs / "dbt_stdout.log"
    with (
        dg.DagsterInstance.from_config(str(home.dagster)) as instance,
        open(log_path, "w") as log,
        contextlib.redirect_stdout(log),
    ):
        return job.execute_in_process(
            run_config={
                "ops": _ops_config(raw_shop_data_config, op_config),
                "loggers": {"progress": {}},
            },
            instance=instance,
            resources=resources,
            raise_on_error=False,
            tags=tags,
            partition_key=partition_key,
        )


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The metadata values of `asset`'s last materialization in a run."""
    events = [e.materialization for e in result.get_asset_materialization_events()
              if e.asset_key == dg.AssetKey(asset)]
    if not events:
        raise KeyError(f"asset: {asset} was not materialized in run {result.run_id}")
    return {name: value.value for name, value in events[-1].metadata.items()}


def _ops_config(raw_shop_data_config: dict | None, op_config: dict[str, dict] | None) -> dict:
    ops = {name: {"config": values} for name, values in (op_config or {}).items()}
    if raw_shop_data_config is not None:
        ops["raw_shop_data"] = {"config": raw_shop_data_config}
    return ops
