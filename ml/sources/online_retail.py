"""UCI Online Retail (a UK gift shop's invoice lines, 2010-12 .. 2011-12) onto the data contract.

- Every line of an invoice is a purchase; cancellation invoices ("C...") become `return` events.
- Lines without CustomerID are guest baskets: user `guest-<InvoiceNo>` (ml.schema.GUEST_PREFIX),
  so they still count for popularity and co-purchase but never as a customer.
- Postage, fees, manual adjustments and gift vouchers are quarantined as `not_a_product`.
- The file has no event id: it is derived from the line's content, so repeated identical lines are
  quarantined as duplicates. InvoiceDate is UK local time and is taken as UTC (at most an hour off).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml.schema import GUEST_PREFIX
from ml.sources.contract import RawSource, content_event_ids
from ml.sources.files import read_table

NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
)


def load_online_retail(path: str | Path) -> RawSource:
    """Read the Online Retail file (Parquet, CSV or the original Excel) and map it."""
    lines = read_table(Path(path), columns=None)
    missing = {
        "InvoiceNo",
        "StockCode",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
    } - set(lines.columns)
    if missing:
        raise ValueError(f"{path}: not an Online Retail file, missing column(s) {sorted(missing)}")
    invoice = lines["InvoiceNo"].astype("string").str.strip()
    stock_code = lines["StockCode"].astype("string").str.strip()
    customer = lines["CustomerID"].astype("Float64").astype("Int64").astype("string")
    is_cancellation = invoice.str.startswith("C")
    not_product = stock_code.isin(NON_PRODUCT_CODES) | stock_code.str.startswith("gift_")
    not_product |= invoice.str.startswith("A")  # "Adjust bad debt" lines
    events = pd.DataFrame(
        {
            "event_id": content_event_ids(
                lines[
                    ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
                ]
            ),
            "user_id": ("c" + customer).fillna(GUEST_PREFIX + invoice),
            "session_id": invoice,
            "item_id": stock_code,
            "event_type": is_cancellation.map({True: "return", False: "purchase"}),
            "occurred_at": lines["InvoiceDate"],
            # A cancellation line has a negative quantity: as a return, that many units come back.
            "quantity": lines["Quantity"].where(~is_cancellation, -lines["Quantity"]),
            "price": lines["UnitPrice"],
            "order_id": invoice,
            "rejected_reason": ("StockCode " + stock_code + " is a fee or adjustment line").where(
                not_product
            ),
        }
    )
    return RawSource(
        name="online-retail",
        events=events,
        products=_products(lines, stock_code, not_product),
        customers=_customers(lines, customer),
    )


def _products(lines: pd.DataFrame, stock_code: pd.Series, not_product: pd.Series) -> pd.DataFrame:
    sold = lines.assign(item_id=stock_code)[~not_product & (lines["Quantity"] > 0)]
    sold = sold[sold["UnitPrice"] > 0]
    grouped = sold.groupby("item_id")
    title = grouped["Description"].agg(_most_common)
    return pd.DataFrame(
        {
            "item_id": title.index,
            "title": title.to_numpy(),
            "description": title.to_numpy(),
            "price": grouped["UnitPrice"].median().to_numpy(),
            "in_stock": True,
            "created_at": grouped["InvoiceDate"].min().to_numpy(),
        }
    )


def _customers(lines: pd.DataFrame, customer: pd.Series) -> pd.DataFrame:
    known = lines.assign(user_id="c" + customer)[customer.notna()]
    grouped = known.groupby("user_id")
    return pd.DataFrame(
        {
            "user_id": grouped.size().index,
            "first_seen_at": grouped["InvoiceDate"].min().to_numpy(),
            "country": grouped["Country"].agg(_most_common).to_numpy(),
        }
    )


def _most_common(values: pd.Series):
    counts = values.dropna().value_counts()
    return counts.index[0] if len(counts) else None
