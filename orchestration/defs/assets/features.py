"""Which cutoffs the models need point-in-time features for: every split of both protocols that
tuning, the contenders, the selection and the challenger fit on (ml.point_in_time). dbt's
`point_in_time_dbt_assets` builds the `ml_pit_*` features from the table written here."""

import dagster as dg

from ml.point_in_time import cutoff_table, required_splits
from orchestration.defs.assets.transforms import mart_key
from orchestration.lib.marts import training_data
from orchestration.lib.warehouse import DuckDBWarehouse

CUTOFF_INPUTS = [mart_key(m) for m in ("fct_interactions", "dim_products", "ml_temporal_split")]


@dg.asset(group_name="features", deps=CUTOFF_INPUTS, kinds={"duckdb"}, pool="duckdb")
def feature_cutoffs(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """features.cutoffs: per split the models fit on and per user, the user's cutoff (events
    strictly before it are visible) and the shop's."""
    log, _, windows = training_data(warehouse)
    table = cutoff_table(log, required_splits(log, windows))
    warehouse.replace_tables("features", {"cutoffs": table})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(table),
        "cutoff_ids": dg.MetadataValue.json(table["cutoff_id"].unique().tolist()),
    })
