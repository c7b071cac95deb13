"""Jobs: what a data engineer launches, and what the CLI runs."""

import dagster as dg

from orchestration.defs.assets.ranking import CONTENDER_KEYS

# Experiments have their own jobs: their reports are partitioned (one per experiment), and a
# pipeline run neither defines nor judges experiments.
EXPERIMENTS = dg.AssetSelection.groups("experiments")

# Everything from the raw source to the newest artifact, checks included.
build_tailor_job = dg.define_asset_job(
    name="build_tailor_job",
    selection=dg.AssetSelection.all(include_sources=False) - EXPERIMENTS,
    description="Load the configured source, transform, validate and build every downstream asset.",
)

# Raw source -> validated feature marts, no models (the features benchmark; data-only refreshes).
build_features_job = dg.define_asset_job(
    name="build_features_job",
    selection=dg.AssetSelection.groups("ingest", "staging", "intermediate", "marts", "features"),
    description="Load the configured source, run the dbt transforms (the point-in-time features "
    "included) and the data-quality gates.",
)

# A new batch of data arriving (`tailor simulate-drift`; a shop's loader): raw_shop_data with
# `arrival: append` and the raw tables' gates; monitor_tailor_job then reports on it.
ingest_tailor_job = dg.define_asset_job(
    name="ingest_tailor_job",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load a source into the raw tables (configure raw_shop_data: a whole history, "
    "or arrival append for a new batch) and run the raw tables' gates.",
)

# Re-evaluate the current tuned settings on the current warehouse (`tailor evaluate`).
evaluate_tailor_job = dg.define_asset_job(
    name="evaluate_tailor_job",
    selection=dg.AssetSelection.assets(*CONTENDER_KEYS.values(), "model_evaluation"),
    description="Judge every contender with the tuned settings (validation and test splits of "
    "both protocols) and select the challenger's.",
)

# Raw tables are where new data arrives (ingest_tailor_job with arrival append): jobs below do not
# reload them, but their blocking suites run again on what has arrived.
RAW_TABLE_CHECKS = dg.AssetSelection.checks_for_assets(
    "raw_events", "raw_products", "raw_customers"
)
NOT_RELOADED = dg.AssetSelection.groups("ingest")

# Drift -> retrain: everything downstream of the raw tables, up to promotion. Drift reports are left
# out: they would compare the new data with the champion this very run may replace.
retrain_tailor_job = dg.define_asset_job(
    name="retrain_tailor_job",
    selection=(
        dg.AssetSelection.all(include_sources=False)
        - NOT_RELOADED
        - dg.AssetSelection.groups("monitoring")
        - EXPERIMENTS
    )
    | RAW_TABLE_CHECKS,
    description="Retrain on the data already in the warehouse: transform, validate, tune, "
    "evaluate, and promote only past the blocking gates (requested by retrain_on_drift_sensor "
    "and retrain_tailor_weekly_schedule).",
)

# A new batch of data: transforms, their gates, and the drift reports against the champion
# (tailor_bundle's stored output: the models are not trained again here).
MODELS = dg.AssetSelection.groups("ranking", "serving")
monitor_tailor_job = dg.define_asset_job(
    name="monitor_tailor_job",
    selection=(dg.AssetSelection.groups("monitoring").upstream() - NOT_RELOADED - MODELS)
    | RAW_TABLE_CHECKS | dg.AssetSelection.groups("governance"),
    description="Transform and validate the newest data and write the Evidently drift reports "
    "against the serving model's reference.",
)

# The definitions file checked, recorded and published (`tailor experiment create|stop`).
experiment_registry_job = dg.define_asset_job(
    name="experiment_registry_job",
    selection=dg.AssetSelection.assets("experiment_registry"),
    description="Check experiments.yaml against the recorded versions (a started experiment "
    "refuses new weights or salt), record and publish it for the service.",
)

# One experiment's report (a partition per experiment; experiment_reports_daily_schedule).
experiment_reports_job = dg.define_asset_job(
    name="experiment_reports_job",
    selection=dg.AssetSelection.assets("experiment_report"),
    description="An experiment's report: KPIs per arm with intervals, the sample-ratio check "
    "and the verdict, from raw.exposures and raw.events.",
)
