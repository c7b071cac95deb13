"""The feature marts as the models read them: one reader for the model and monitoring assets."""

from __future__ import annotations

from ml.challenger import Marts
from ml.data import Catalog, EventLog, Windows
from ml.point_in_time import FeatureStore
from orchestration.lib.warehouse import DuckDBWarehouse


def training_data(warehouse: DuckDBWarehouse) -> tuple[EventLog, Catalog, Windows]:
    """The event log, the catalog and the temporal windows (main.fct_interactions,
    main.dim_products, main.ml_temporal_split)."""
    catalog = Catalog.from_products(warehouse.read_table("main.dim_products"))
    log = EventLog.from_interactions(warehouse.read_table("main.fct_interactions"), catalog)
    return log, catalog, Windows.from_split(warehouse.read_table("main.ml_temporal_split"))


def point_in_time(warehouse: DuckDBWarehouse) -> FeatureStore:
    """The point-in-time features (main.ml_pit_*) of the cutoffs feature_cutoffs listed."""
    return FeatureStore(warehouse.query)


def challenger_marts(warehouse: DuckDBWarehouse) -> Marts:
    return Marts(
        customers=warehouse.read_table("main.dim_customers"),
        segments=warehouse.read_table("main.ml_customer_segments"),
        user_features=warehouse.read_table("main.ml_user_features"),
        item_features=warehouse.read_table("main.ml_item_features"),
        interactions=warehouse.read_table("main.fct_interactions"),
        event_weights=warehouse.read_table("main.event_type_weights"),
    )
