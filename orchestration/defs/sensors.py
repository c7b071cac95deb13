"""The graph's imperative triggers (STYLE 6): drift -> retrain, and live events -> raw_events.

`stream_drain_sensor` requests ingest_tailor_job with raw_shop_data's source `stream` whenever
the event stream holds events the warehouse has not acknowledged, unless such a run is still
going: the service's accepted events reach raw_events (and so the next training and the drift
reports) within a minute or two.

`retrain_on_drift_sensor` watches `feature_drift_report`. When a report's share of drifted feature
columns reaches its retrain threshold (recorded in the report's metadata by the asset's config;
`DEFAULT_RETRAIN_THRESHOLD` for reports that lack it), it requests `retrain_tailor_job` once per
report (`run_key` = the report's run id), with the report's path in the run's tags. It stays quiet
when the report had no reference, when the report's own run trains a model anyway, or when a model
was promoted after the report (the report judged a champion that no longer serves).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from ml.monitoring import MonitoringParams
from orchestration.lib.stream import EventStreamResource

DEFAULT_RETRAIN_THRESHOLD = MonitoringParams().retrain_threshold
FEATURE_DRIFT_REPORT = dg.AssetKey("feature_drift_report")
PROMOTED_MODEL = dg.AssetKey("tailor_bundle")
TRAINING_JOBS = frozenset({"build_tailor_job", "retrain_tailor_job"})


def retrain_request(
    metadata: Mapping[str, Any],
    report_run_id: str,
    report_job: str | None = None,
    promoted_since: bool = False,
    run_config: dict | None = None,
) -> dg.RunRequest | dg.SkipReason:
    """The sensor's decision for one feature_drift_report materialization (pure, for tests)."""
    status = _value(metadata, "status", "ok")
    if status != "ok":
        return dg.SkipReason(
            f"report {report_run_id[:8]}: {status} ({_value(metadata, 'reason', '')})"
        )
    share = float(_value(metadata, "drift_share", 0.0))
    threshold = float(_value(metadata, "retrain_threshold", DEFAULT_RETRAIN_THRESHOLD))
    if share < threshold:
        return dg.SkipReason(
            f"report {report_run_id[:8]}: drift share {share:.2f} below {threshold:.2f}"
        )
    if report_job in TRAINING_JOBS:
        return dg.SkipReason(
            f"report {report_run_id[:8]}: drift share {share:.2f}, but its run ({report_job}) "
            "trains a model on this data itself"
        )
    if promoted_since:
        return dg.SkipReason(
            f"report {report_run_id[:8]}: drift share {share:.2f}, but a model was promoted "
            "after it"
        )
    return dg.RunRequest(
        run_key=report_run_id,
        run_config=run_config or {},
        tags={
            "tailor/trigger": "drift",
            "tailor/drift_report_run": report_run_id,
            "tailor/drift_report": str(_value(metadata, "summary", "")),
            "tailor/drift_share": f"{share:.3f}",
            "tailor/drifted_columns": str(_value(metadata, "drifted_columns", ""))[:200],
        },
    )


@dg.asset_sensor(
    asset_key=FEATURE_DRIFT_REPORT,
    job_name="retrain_tailor_job",
    name="retrain_on_drift_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests retrain_tailor_job when feature_drift_report's drift share reaches "
    "its retrain threshold.",
)
def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    run = context.instance.get_run_by_id(asset_event.run_id)
    promoted = context.instance.get_latest_materialization_event(PROMOTED_MODEL)
    return retrain_request(
        asset_event.asset_materialization.metadata,
        asset_event.run_id,
        report_job=run.job_name if run else None,
        promoted_since=promoted is not None and promoted.timestamp > asset_event.timestamp,
        run_config=settings_run_config(context, "retrain_tailor_job"),
    )


def settings_run_config(context, job_name: str) -> dict:
    """The home's settings file as the run config of `job_name` (checks.settings_op_config)."""
    from orchestration.defs.checks import settings_op_config

    if context.repository_def is None:  # a context built without the definitions (tests)
        return {}
    ops = settings_op_config(context.repository_def.get_job(job_name))
    return {"ops": {name: {"config": config} for name, config in ops.items()}}


def _value(metadata: Mapping[str, Any], key: str, default: Any) -> Any:
    value = metadata.get(key, default)
    return value.value if isinstance(value, dg.MetadataValue) else value


DRAIN_JOB = "ingest_tailor_job"
DRAIN_CONFIG = {"ops": {"raw_shop_data": {"config": {"source": "stream", "arrival": "append"}}}}


def drain_request(waiting: int, draining: bool) -> dg.RunRequest | dg.SkipReason:
    """The drain sensor's decision (pure, for tests)."""
    if waiting == 0:
        return dg.SkipReason("no stream events waiting for the warehouse")
    if draining:
        return dg.SkipReason(f"{waiting} events waiting; a drain run is still going")
    return dg.RunRequest(run_config=DRAIN_CONFIG,
                         tags={"tailor/trigger": "stream", "tailor/waiting": str(waiting)})


@dg.sensor(
    job_name=DRAIN_JOB,
    name="stream_drain_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Drains the service's accepted events into raw_events (raw_shop_data, source "
    "stream) when the event stream holds some the warehouse has not acknowledged.",
)
def stream_drain_sensor(context: dg.SensorEvaluationContext, event_stream: EventStreamResource):
    running = context.instance.get_runs(filters=dg.RunsFilter(
        job_name=DRAIN_JOB, tags={"tailor/trigger": "stream"},
        statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                  dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1)
    return drain_request(event_stream.waiting(), bool(running))
