"""The governance page: `<reports>/index.html`, one asset downstream of what it shows (the served
model, the evaluation, the drift reports), so the graph says when it was written and from what.
`tailor report` materializes it; orchestration/lib/governance.py gathers and lays it out."""

from datetime import datetime

import dagster as dg

from orchestration.lib.governance import write_governance_page
from orchestration.lib.model_store import ModelStore
from orchestration.lib.reports import ReportStore

RAW_EVENTS = dg.AssetKey("raw_events")
LOADS_SHOWN = 200  # the newest loads in the plot


@dg.asset(group_name="governance", kinds={"html"},
          deps=["tailor_bundle", "model_evaluation", "feature_drift_report",
                "prediction_drift_report", "target_drift_report"])
def governance_page(context: dg.AssetExecutionContext, reports: ReportStore,
                    model_store: ModelStore) -> dg.MaterializeResult:
    """Model cards, data quality, drift, evaluation and experiments on one static page, with
    plots over time; opens offline."""
    loads = load_history(context.instance)
    path = write_governance_page(reports.root_path, model_store, loads)
    return dg.MaterializeResult(metadata={"page": dg.MetadataValue.path(str(path)),
                                          "loads_shown": len(loads)})


def load_history(instance: dg.DagsterInstance) -> list[dict]:
    """Each load of raw events (raw_events' materializations): when, rows read, quarantined."""
    records = instance.fetch_materializations(RAW_EVENTS, limit=LOADS_SHOWN).records
    loads = []
    for record in records:
        metadata = record.asset_materialization.metadata
        if "raw_rows" in metadata and "quarantined_rows" in metadata:
            loads.append({"at": datetime.utcfromtimestamp(record.timestamp),
                          "raw_rows": metadata["raw_rows"].value,
                          "quarantined_rows": metadata["quarantined_rows"].value})
    return loads
