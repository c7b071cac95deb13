"""Ingest: a shop's source onto the data contract, into the warehouse's `raw` schema.

The one producer of raw.*: a first load replaces them (`arrival: replace`), every later batch is
appended through here too (`arrival: append`, orchestration/lib/ingest.py), so the lineage of
every raw row is this asset. That includes live traffic: source `stream` drains the events the
service accepted (the event stream's `warehouse` group) through the same contract validation and
quarantine, and acknowledges them only once they are stored (`stream_drain_sensor` requests it).
"""

from dataclasses import replace
from datetime import datetime
from typing import Literal

import dagster as dg

from ml.sources.contract import ValidatedSource, validate_source
from ml.sources.load import LoadedSource, SourceRequest, StoredTables, load_source
from ml.sources.stream import stream_source
from ml.synthetic import SyntheticParams
from ml.synthetic.days import DriftParams
from orchestration.lib.ingest import (
    append_exposures,
    append_load,
    replace_load,
    stored_exposure_ids,
)
from orchestration.lib.stream import EventStreamResource
from orchestration.lib.warehouse import DuckDBWarehouse

RAW_TABLE_ASSETS = {
    "raw_events": "events",
    "raw_products": "products",
    "raw_customers": "customers",
}


class RawShopDataConfig(dg.Config):
    source: Literal["synthetic", "online-retail", "rees46", "files", "simulated-days",
                    "stream"] = "synthetic"
    # replace: this load is the whole history; append: a new batch added to what is stored.
    arrival: Literal["replace", "append"] = "replace"
    events_path: str | None = None
    products_path: str | None = None
    customers_path: str | None = None
    # CSV separator of the files source (",", ";", "tab", "|"); None: found from each header.
    sep: str | None = None
    # files source: per table, the shop's column names -> the contract's (settings [columns])
    columns: dict[str, dict[str, str]] = {}
    synthetic_size: Literal["small", "1m"] = "small"
    synthetic_seed: int = 7
    # simulated-days (append only): the next days of the stored shop, with a shift in behaviour.
    simulated_days: int = 7
    simulated_shift: Literal["none", "taste", "new-category"] = "none"  # ml.synthetic.days
    simulated_seed: int = 0
    # stream (append only): at most this many of the service's accepted events per run.
    stream_batch: int = 50_000
    # Reference "now" (ISO-8601, UTC). Default: the newest valid event (suits historical files);
    # a live shop passes the load time so that freshness is measured for real.
    as_of: str | None = None

    def now(self) -> datetime | None:
        return datetime.fromisoformat(self.as_of) if self.as_of else None

    def to_request(self) -> SourceRequest:
        if self.source in ("simulated-days", "stream") and self.arrival != "append":
            raise ValueError(f"arrival: the {self.source} source continues the stored shop; "
                             "it needs arrival append")
        return SourceRequest(
            source=self.source,
            events_path=self.events_path,
            products_path=self.products_path,
            customers_path=self.customers_path,
            sep=self.sep,
            columns=self.columns,
            synthetic=replace(
                SyntheticParams.preset(self.synthetic_size), seed=self.synthetic_seed
            ),
            simulated=DriftParams(self.simulated_days, self.simulated_shift, self.simulated_seed),
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, group_name="ingest", kinds={"duckdb"}, description=f"Valid {table} rows.")
        for key, table in RAW_TABLE_ASSETS.items()
    ]
    + [
        dg.AssetSpec(
            "raw_quarantine",
            group_name="ingest",
            kinds={"duckdb"},
            description="Rows that broke the data contract, with the reason and the row.",
        ),
        dg.AssetSpec(
            "raw_load_info",
            group_name="ingest",
            kinds={"duckdb"},
            description="One row: source, as_of (reference time), counts of the load.",
        ),
        dg.AssetSpec(
            "raw_exposures",
            group_name="ingest",
            kinds={"duckdb"},
            description="The service's exposures of experiment answers (one row per answer), "
                        "drained from the event stream with the events.",
            skippable=True,  # only the stream source brings them
        ),
        dg.AssetSpec(
            "synthetic_truth",
            group_name="ingest",
            kinds={"duckdb"},
            description="The synthetic store's hidden truth (tastes); empty for real shops.",
            skippable=True,  # an appended batch leaves it as it is
        ),
    ],
    pool="duckdb",
)
def raw_shop_data(config: RawShopDataConfig, warehouse: DuckDBWarehouse,
                  event_stream: EventStreamResource):
    """Load the configured source, validate it against the contract, write raw.* at once."""
    if config.source == "stream":
        yield from drain_stream(config, warehouse, event_stream)
        return
    stored = stored_tables(warehouse) if config.source == "simulated-days" else None
    loaded = load_source(config.to_request(), now=config.now(), stored=stored)
    if config.arrival == "append":
        data = append_load(warehouse, loaded.validated, config.now())
    else:
        data = replace(loaded.validated, as_of=config.now() or loaded.validated.as_of)
        replace_load(warehouse, data, data.as_of, loaded.truth)
    yield from load_results(data, loaded, config.arrival, warehouse.row_counts())


def drain_stream(config: RawShopDataConfig, warehouse: DuckDBWarehouse,
                 event_stream: EventStreamResource):
    """The stream's next events appended (redelivered ones counted, not stored twice), then
    acknowledged: a run that fails before that leaves them for the next one."""
    config.to_request()  # the arrival check
    ids, events = event_stream.take(config.stream_batch)
    stored = set(warehouse.query("select event_id from raw.events")["event_id"])
    batch = stream_source(events, stored, stored_exposure_ids(warehouse))
    validated = validate_source(batch.raw, now=config.now())
    if not len(validated.events):  # as_of stays where it is
        validated = replace(validated, as_of=warehouse.as_of())
    data = append_load(warehouse, validated, None)
    exposures = append_exposures(warehouse, batch.exposures, batch.bad_exposures)
    event_stream.done(ids)
    note = (f"{len(ids)} stream entries: {len(data.events)} events stored, {batch.repeated} "
            f"redelivered, {len(batch.exposures)} exposures")
    yield dg.MaterializeResult(asset_key="raw_exposures", metadata={
        "dagster/row_count": exposures, "loaded_rows": len(batch.exposures),
        "quarantined_rows": len(batch.bad_exposures)})
    yield from load_results(data, LoadedSource(validated, {}, note=note), config.arrival,
                            warehouse.row_counts())


def stored_tables(warehouse: DuckDBWarehouse) -> StoredTables:
    return StoredTables(*(warehouse.read_table(f"raw.{t}") for t in RAW_TABLE_ASSETS.values()),
                        as_of=warehouse.as_of())


def load_results(data: ValidatedSource, loaded: LoadedSource, arrival: str,
                 row_counts: dict[str, int]):
    """One materialization per raw table: its rows now, those of this load, what was
    quarantined."""
    quarantine_counts = data.quarantine_counts()
    for key, table in RAW_TABLE_ASSETS.items():
        frame = getattr(data, table)
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": row_counts[f"raw.{table}"],
            "loaded_rows": len(frame),
            "raw_rows": data.raw_counts[table],
            "quarantined_rows": data.raw_counts[table] - len(frame),
            "quarantined_by_reason": quarantine_counts[table],
            "source": data.name,
            "arrival": arrival,
            "preview": dg.MetadataValue.md(frame.head(5).to_markdown(index=False)),
        })
    yield dg.MaterializeResult(asset_key="raw_quarantine", metadata={
        "dagster/row_count": row_counts["raw.quarantine"],
        "quarantined_rows": len(data.quarantine),
        "by_table_and_reason": quarantine_counts,
        "preview": dg.MetadataValue.md(data.quarantine.head(5).to_markdown(index=False)),
    })
    info = {"source": data.name, "as_of": data.as_of.isoformat(), "arrival": arrival}
    yield dg.MaterializeResult(asset_key="raw_load_info",
                               metadata={**info, **({"batch": loaded.note} if loaded.note else {})})
    if arrival == "replace":
        yield dg.MaterializeResult(asset_key="synthetic_truth", metadata={
            "tables": {name: len(frame) for name, frame in loaded.truth.items()}})
