"""Schedules: a weekly retrain as the floor under the drift sensor, so a model never grows stale
because drift happened to stay under the threshold; and every experiment's report, daily."""

import dagster as dg

from orchestration.defs.sensors import settings_run_config


@dg.schedule(job_name="retrain_tailor_job", cron_schedule="0 3 * * 1",  # Mondays 03:00 UTC
             execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
             tags={"tailor/trigger": "schedule"},
             description="Weekly retraining on the data in the warehouse (the floor under "
             "retrain_on_drift_sensor), with the settings file's gates and tuning budget.")
def retrain_tailor_weekly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_config=settings_run_config(context, "retrain_tailor_job"))


@dg.schedule(job_name="experiment_reports_job", cron_schedule="0 6 * * *",
             execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every experiment's report, daily (one run per experiment partition; "
             "a holdback's KPI monitoring keeps going after its test ended).")
def experiment_reports_daily_schedule(context: dg.ScheduleEvaluationContext):
    names = context.instance.get_dynamic_partitions("experiments")
    if not names:
        return dg.SkipReason("no experiment defined (tailor experiment create)")
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(run_key=f"{name}:{day}", partition_key=name) for name in names]
