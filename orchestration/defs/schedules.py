"""Schedules: a weekly retrain as the floor under the drift sensor, so a model never grows stale
because drift happened to stay under the threshold."""

import dagster as dg

retrain_tailor_weekly_schedule = dg.ScheduleDefinition(
    name="retrain_tailor_weekly_schedule",
    job_name="retrain_tailor_job",
    cron_schedule="0 3 * * 1",  # Mondays 03:00 UTC
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    tags={"tailor/trigger": "schedule"},
    description="Weekly retraining on the data in the warehouse (the floor under "
    "retrain_on_drift_sensor).",
)
