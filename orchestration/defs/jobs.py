"""Jobs: what a data engineer launches, and what the CLI runs."""


import dagster as dg

# Everything from the raw source to the newest artifact, checks included.
build_tailor_job = dg.define_asset_job(
    name="build_tailor_job",
    selection=dg.AssetSelection.all(include_sources=False),
    description="Load the configured source, transform, validate and build every downstream asset.",
)
