"""Small, fast training inputs for unit tests: the synthetic store shaped like dbt's marts.

The real pipeline builds `fct_interactions` and `dim_products` in dbt (tests/orchestration runs it);
unit tests of the models need the same shape in milliseconds, with weights from the same seed file.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ml.candidates import AlsParams, CandidateIndex, CandidateParams, fit_index
from ml.data import EVENT_CODES, Catalog, EventLog, Windows
from ml.evaluation.protocols import Split, per_user_labels, serve_split
from ml.point_in_time import FeatureStore, cutoff_table, required_splits
from ml.schema import CATEGORY_SEPARATOR, GUEST_PREFIX
from ml.synthetic import SyntheticParams, SyntheticStore, generate_store

# model_tuning's run config for a challenger worse than the synthetic store's tuned champion (whose
# tuning never returns worse than the defaults) yet better than every baseline: a ranker of 3 trees
# of depth 2, trained as it is.
WEAK_RANKER = {"source_trials": 1, "ranker_trials": 1,
               "start": {"ranker": {"rounds": 3, "max_depth": 2}}}

TRANSFORMS = Path(__file__).parents[1] / "transforms"
EVENT_NAMES = {code: name for name, code in EVENT_CODES.items()}


def event_weights() -> dict[str, float]:
    """dbt's seed (orchestration.lib.seeds reads it for the stream workers too)."""
    from orchestration.lib.seeds import event_type_weights

    return event_type_weights()


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


# --------------------------------------------------------------------------------------------------
# Point-in-time features as the pipeline builds them: dbt's models/features on a scratch DuckDB
# --------------------------------------------------------------------------------------------------

_SCRATCH = Path(tempfile.mkdtemp(prefix="tailor-pit-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)  # the DuckDB files and dbt's target
_STORES = itertools.count()


def feature_store(log: EventLog, catalog: Catalog, splits: list[Split],
                  half_life_days: float = 30.0) -> FeatureStore:
    """The point-in-time features of `splits`, built by the real dbt models
    (transforms/models/features) from `log` and `catalog` written as fct_interactions and
    dim_products: what `feature_cutoffs` and `point_in_time_dbt_assets` build in the pipeline."""
    from dbt.cli.main import dbtRunner

    from serving import TELEMETRY_OFF

    # A new file each time: dbt-duckdb keeps the databases it opened open in this process.
    warehouse = _SCRATCH / f"features-{next(_STORES)}.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        tables = {"fct_interactions": _interactions_of(log, catalog),
                  "dim_products": _products_of(catalog),
                  "ml_temporal_split": pd.DataFrame({"decay_half_life_days": [half_life_days]})}
        for name, frame in tables.items():
            con.register("incoming", frame)
            con.execute(f"create table main.{name} as select * from incoming")
            con.unregister("incoming")
        con.register("incoming", cutoff_table(log, splits))
        con.execute("create schema features")
        con.execute("create table features.cutoffs as select * from incoming")
    saved = dict(os.environ)
    os.environ.update({**TELEMETRY_OFF, "TAILOR_DUCKDB_PATH": str(warehouse)})
    try:
        result = dbtRunner().invoke([
            "run", "--quiet", "--select", "tag:point_in_time",
            "--project-dir", str(TRANSFORMS), "--profiles-dir", str(TRANSFORMS),
            "--target-path", str(_SCRATCH / "target"), "--log-path", str(_SCRATCH / "logs")])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not result.success:
        raise RuntimeError(f"dbt run of models/features failed: "
                           f"{result.exception or result.result}")

    def query(sql: str, parameters: list) -> pd.DataFrame:
        with duckdb.connect(str(warehouse)) as con:
            return con.execute(sql, parameters).df()

    return FeatureStore(query)


def pipeline_features(log: EventLog, catalog: Catalog, windows: Windows) -> FeatureStore:
    """Every split the pipeline fits on (ml.point_in_time.required_splits)."""
    return feature_store(log, catalog, required_splits(log, windows), windows.half_life_days)


def split_features(log: EventLog, catalog: Catalog, split: Split) -> FeatureStore:
    """`split` and its per-user labels: what `train` on it reads."""
    return feature_store(log, catalog, [split, per_user_labels(log, split)])


def index_at(log: EventLog, catalog: Catalog, cutoff: float, als: AlsParams,
             params: CandidateParams) -> CandidateIndex:
    """Every source fit on the events before `cutoff`, with their point-in-time features."""
    split = serve_split(log, cutoff)
    features = feature_store(log, catalog, [split]).at(split, log, catalog)
    return fit_index(log, catalog, cutoff, als, params, features)


def _interactions_of(log: EventLog, catalog: Catalog) -> pd.DataFrame:
    """The log as the fct_interactions columns the features read."""
    return pd.DataFrame({
        "user_id": log.user_ids[log.user].astype(str),
        "item_id": catalog.item_ids[log.item].astype(str),
        "event_type": [EVENT_NAMES[int(code)] for code in log.event],
        "weight": log.weight.astype(np.float64),
        "price": log.price.astype(np.float64),
        "quantity": log.quantity.astype(np.float64),
        "occurred_at": pd.to_datetime(np.round(log.time * 1e6).astype(np.int64), unit="us"),
    })


def _products_of(catalog: Catalog) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": catalog.item_ids.astype(str),
        "category_l1": catalog.category.astype(str),
        "price": catalog.price,
        "created_at": pd.to_datetime(np.round(catalog.created_at * 1e6).astype(np.int64),
                                     unit="us"),
    })
