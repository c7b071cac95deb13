"""Jobs: what a data engineer launches, and what the CLI runs."""

import dagster as dg

# Everything from the raw source to the newest artifact, checks included.
build_tailor_job = dg.define_asset_job(
    name="build_tailor_job",
    selection=dg.AssetSelection.all(include_sources=False),
    description="Load the configured source, transform, validate and build every downstream asset.",
)

# Raw source -> validated feature marts, no models (the features benchmark; data-only refreshes).
build_features_job = dg.define_asset_job(
    name="build_features_job",
    selection=dg.AssetSelection.groups("ingest", "staging", "marts"),
    description="Load the configured source, run the dbt transforms and the data-quality gates.",
)

# Re-evaluate the current tuned settings on the current warehouse (`tailor evaluate`).
evaluate_tailor_job = dg.define_asset_job(
    name="evaluate_tailor_job",
    selection=dg.AssetSelection.assets("model_evaluation"),
    description="Evaluate the tuned settings beside the baselines on the validation and test windows.",
)
