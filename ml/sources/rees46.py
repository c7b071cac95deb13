"""REES46-style event exports onto the contract (Kaggle "eCommerce behavior data from multi
category store").

Columns: event_time ("2019-10-01 00:00:00 UTC"), event_type (view, cart, remove_from_cart,
purchase), product_id, category_id, category_code ("electronics.smartphone"), brand, price,
user_id, user_session.
Products and customers are derived from the events (the export has no catalog or customer file).
Exact repeated rows get the same content-derived event id and are quarantined as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml.schema import CATEGORY_SEPARATOR
from ml.sources.contract import RawSource, content_event_ids
from ml.sources.files import read_table

EVENT_TYPE_NAMES = {"cart": "add_to_cart"}
REQUIRED = ("event_time", "event_type", "product_id", "user_id", "user_session")


def load_rees46(path: str | Path) -> RawSource:
    rows = read_table(Path(path), columns=None, dtype=str)
    missing = set(REQUIRED) - set(rows.columns)
    if missing:
        raise ValueError(f"{path}: not a REES46 export, missing column(s) {sorted(missing)}")
    event_type = rows["event_type"].str.strip().str.lower()
    is_purchase = event_type == "purchase"
    events = pd.DataFrame(
        {
            "event_id": content_event_ids(rows),
            "user_id": rows["user_id"],
            "session_id": rows["user_session"],
            "item_id": rows["product_id"],
            "event_type": event_type.replace(EVENT_TYPE_NAMES),
            "occurred_at": rows["event_time"].str.replace(" UTC", "+00:00", regex=False),
            "quantity": 1,
            "price": rows.get("price"),
            # One session's purchases form one order (the export has no order id).
            "order_id": rows["user_session"].where(is_purchase),
        }
    )
    return RawSource(
        name="rees46", events=events, products=_products(rows), customers=_customers(events)
    )


def _products(rows: pd.DataFrame) -> pd.DataFrame:
    latest = rows.dropna(subset=["product_id"]).drop_duplicates("product_id", keep="last")
    path = latest["category_code"].str.replace(".", CATEGORY_SEPARATOR, regex=False)
    path = path.fillna("category " + latest["category_id"].fillna("unknown"))
    leaf = path.str.split(CATEGORY_SEPARATOR).str[-1]
    brand = latest["brand"]
    first_seen = rows.groupby("product_id")["event_time"].min()
    return pd.DataFrame(
        {
            "item_id": latest["product_id"].to_numpy(),
            "title": (brand.fillna("") + " " + leaf).str.strip().to_numpy(),
            "category_path": path.to_numpy(),
            "brand": brand.to_numpy(),
            "price": latest["price"].to_numpy(),
            "in_stock": True,
            "created_at": first_seen.reindex(latest["product_id"])
            .str.replace(" UTC", "+00:00", regex=False)
            .to_numpy(),
        }
    )


def _customers(events: pd.DataFrame) -> pd.DataFrame:
    first_seen = events.dropna(subset=["user_id"]).groupby("user_id")["occurred_at"].min()
    return pd.DataFrame({"user_id": first_seen.index, "first_seen_at": first_seen.to_numpy()})
