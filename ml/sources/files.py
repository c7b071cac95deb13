"""Bring your own files: a shop's own CSV or Parquet exports onto the data contract.

events (required): at least `user_id, item_id, occurred_at` (ISO-8601 with or without offset,
or epoch seconds). Optional: `event_id` (a repeated id is a duplicate; absent, one is derived
from the row's content), `event_type` (default `purchase`), `session_id`, `quantity`, `price`,
`order_id`, `dwell_seconds`, `placement`, `request_id`.
products (optional): `item_id` plus any of `title, description, category_path, brand, price,
in_stock, created_at`. customers (optional): `user_id` plus any customer column of ml.schema.
Columns outside the contract are ignored. The full format is in docs/data-contract.md.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS
from ml.sources.contract import RawSource, content_event_ids

REQUIRED_EVENT_COLUMNS = ("user_id", "item_id", "occurred_at")


def load_files(
    events: str | Path, products: str | Path | None = None, customers: str | Path | None = None
) -> RawSource:
    events_frame = read_table(Path(events), dtype=str)
    missing = [c for c in REQUIRED_EVENT_COLUMNS if c not in events_frame.columns]
    if missing:
        raise ValueError(
            f"{events}: events file is missing required column(s) {missing}; "
            f"it has {list(events_frame.columns)}"
        )
    events_frame = events_frame[[c for c in EVENT_COLUMNS if c in events_frame.columns]]
    if "event_type" not in events_frame:
        events_frame = events_frame.assign(event_type="purchase")
    if "event_id" not in events_frame:
        events_frame = events_frame.assign(event_id=content_event_ids(events_frame))
    return RawSource(
        name="files",
        events=events_frame,
        products=_optional(products, PRODUCT_COLUMNS, "item_id"),
        customers=_optional(customers, CUSTOMER_COLUMNS, "user_id"),
    )


def read_table(path: Path, columns: list[str] | None = None, dtype=None) -> pd.DataFrame:
    """CSV (any of .csv, .csv.gz, .tsv), Parquet or Excel, chosen by the file's name."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path, columns=columns)
        return frame.astype(dtype) if dtype else frame
    if name.endswith((".xlsx", ".xls")):
        return pd.read_excel(path, usecols=columns, dtype=dtype)
    if name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(
            path, usecols=columns, dtype=dtype, sep=sep, keep_default_na=False, na_values=[""]
        )
    raise ValueError(f"{path}: unsupported file type (use .csv, .tsv, .parquet or .xlsx)")


def _optional(path: str | Path | None, columns: dict[str, str], key: str) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame(columns=list(columns))
    frame = read_table(Path(path), dtype=str)
    if key not in frame.columns:
        raise ValueError(f"{path}: missing required column {key!r}; it has {list(frame.columns)}")
    return frame[[c for c in columns if c in frame.columns]]
