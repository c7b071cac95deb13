"""Small, fast training inputs for unit tests: the synthetic store shaped like dbt's marts.

The real pipeline builds `fct_interactions` and `dim_products` in dbt (tests/orchestration runs it);
unit tests of the models need the same shape in milliseconds, with weights from the same seed file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ml.data import Catalog, EventLog
from ml.schema import CATEGORY_SEPARATOR, GUEST_PREFIX
from ml.sources.synthetic import SyntheticParams, SyntheticStore, generate_store

# model_tuning's run config for a challenger worse than the synthetic store's tuned champion (whose
# tuning never returns worse than the defaults) yet better than every baseline: a ranker of 3 trees
# of depth 2, trained as it is.
WEAK_RANKER = {"source_trials": 1, "ranker_trials": 1,
               "start": {"ranker": {"rounds": 3, "max_depth": 2}}}

WEIGHTS_SEED = Path(__file__).parents[1] / "transforms" / "seeds" / "event_type_weights.csv"


def event_weights() -> dict[str, float]:
    with WEIGHTS_SEED.open() as f:
        return {row["event_type"]: float(row["weight"]) for row in csv.DictReader(f)}


def interactions(events: pd.DataFrame) -> pd.DataFrame:
    """Contract events -> the columns of fct_interactions the models read."""
    return events.assign(
        weight=events["event_type"].map(event_weights()).astype("float64"),
        is_guest=events["user_id"].str.startswith(GUEST_PREFIX),
        quantity=events["quantity"].fillna(1),
    )


def products(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract products -> the columns of dim_products the models read."""
    return frame.rename(columns={"in_stock": "is_in_stock"}).assign(
        category_l1=frame["category_path"].str.split(CATEGORY_SEPARATOR).str[0]
    )


def small_store(seed: int = 7) -> SyntheticStore:
    return generate_store(SyntheticParams(seed=seed, n_users=400, n_items=120, days=70))


def tiny_shop(rows: list[tuple], n_items: int) -> tuple[Catalog, EventLog]:
    """A hand-written event log: rows of (user_id, item number, event_type, day, order_id or
    None), over items i0 .. i<n_items - 1> of one category; days count from 2026-01-01."""
    items = [f"i{n}" for n in range(n_items)]
    catalog = Catalog.from_products(pd.DataFrame({
        "item_id": items, "title": items, "description": "", "category_path": "shop",
        "category_l1": "shop", "brand": "", "price": 1.0, "is_in_stock": True,
        "created_at": pd.Timestamp("2025-01-01")}))
    start = pd.Timestamp("2026-01-01")
    events = pd.DataFrame([
        {"event_id": f"e{n}", "user_id": user, "item_id": f"i{item}", "event_type": event,
         "occurred_at": start + pd.Timedelta(days=day), "order_id": order,
         "session_id": f"s-{user}-{day}", "quantity": 1, "price": 1.0}
        for n, (user, item, event, day, order) in enumerate(rows)])
    return catalog, EventLog.from_interactions(interactions(events), catalog)
