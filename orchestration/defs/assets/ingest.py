"""Ingest: a shop's source onto the data contract, into the warehouse's `raw` schema."""

from dataclasses import replace
from datetime import datetime
from typing import Literal

import dagster as dg
import pandas as pd

from ml.sources.load import SourceRequest, load_source
from ml.sources.synthetic import SyntheticParams
from orchestration.lib.warehouse import DuckDBWarehouse

RAW_TABLE_ASSETS = {
    "raw_events": "events",
    "raw_products": "products",
    "raw_customers": "customers",
}


class RawShopDataConfig(dg.Config):
    source: Literal["synthetic", "online-retail", "rees46", "files"] = "synthetic"
    events_path: str | None = None
    products_path: str | None = None
    customers_path: str | None = None
    # CSV separator of the files source (",", ";", "tab", "|"); None: found from each header.
    sep: str | None = None
    synthetic_size: Literal["small", "1m"] = "small"
    synthetic_seed: int = 7
    # Reference "now" (ISO-8601, UTC). Default: the newest valid event (suits historical files);
    # a live shop passes the load time so that freshness is measured for real.
    as_of: str | None = None

    def to_request(self) -> SourceRequest:
        return SourceRequest(
            source=self.source,
            events_path=self.events_path,
            products_path=self.products_path,
            customers_path=self.customers_path,
            sep=self.sep,
            synthetic=replace(
                SyntheticParams.preset(self.synthetic_size), seed=self.synthetic_seed
            ),
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
            "synthetic_truth",
            group_name="ingest",
            kinds={"duckdb"},
            description="The synthetic store's hidden truth (tastes); empty for real shops.",
        ),
    ],
    pool="duckdb",
)
def raw_shop_data(config: RawShopDataConfig, warehouse: DuckDBWarehouse):
    """Load the configured source, validate it against the contract, write raw.* at once."""
    now = datetime.fromisoformat(config.as_of) if config.as_of else None
    loaded = load_source(config.to_request(), now=now)
    data = loaded.validated
    as_of = now or data.as_of
    quarantine_counts = data.quarantine_counts()
    load_info = pd.DataFrame(
        [
            {
                "source": data.name,
                "as_of": as_of,
                "loaded_at": datetime.utcnow(),
                **{f"raw_{t}_rows": n for t, n in data.raw_counts.items()},
                **{f"loaded_{t}_rows": n for t, n in data.loaded_counts().items()},
            }
        ]
    )
    warehouse.replace_tables(
        "raw",
        {
            **{t: getattr(data, t) for t in RAW_TABLE_ASSETS.values()},
            "quarantine": data.quarantine,
            "load_info": load_info,
        },
    )
    warehouse.replace_tables("truth", loaded.truth or {"empty": pd.DataFrame({"note": []})})

    for key, table in RAW_TABLE_ASSETS.items():
        frame = getattr(data, table)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": len(frame),
                "raw_rows": data.raw_counts[table],
                "quarantined_rows": data.raw_counts[table] - len(frame),
                "quarantined_by_reason": quarantine_counts[table],
                "source": data.name,
                "preview": dg.MetadataValue.md(frame.head(5).to_markdown(index=False)),
            },
        )
    yield dg.MaterializeResult(
        asset_key="raw_quarantine",
        metadata={
            "dagster/row_count": len(data.quarantine),
            "by_table_and_reason": quarantine_counts,
            "preview": dg.MetadataValue.md(data.quarantine.head(5).to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="raw_load_info",
        metadata={
            "source": data.name,
            "as_of": as_of.isoformat(),
        },
    )
    yield dg.MaterializeResult(
        asset_key="synthetic_truth",
        metadata={
            "tables": {name: len(frame) for name, frame in loaded.truth.items()},
        },
    )
