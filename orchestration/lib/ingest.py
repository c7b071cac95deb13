"""How a validated load lands in the warehouse's `raw` schema, for the `raw_shop_data` asset.

- `replace`: the load is the shop's whole history; every raw table is replaced at once.
- `append`: the load is a new batch (the next days of events, a catalog update; `tailor
  simulate-drift` sends one): events are added, and an event whose event_id is already stored is
  quarantined as `duplicate_event` (a redelivered batch never double counts); products and
  customers are upserted by id (the newer row wins); the batch's quarantine is added to
  raw.quarantine; raw.load_info moves as_of forward and adds the batch's counts.
Both run in one transaction: a load lands whole or not at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd

from ml.schema import QUARANTINE_COLUMNS, RAW_TABLES
from ml.sources.contract import ValidatedSource
from orchestration.lib.warehouse import DuckDBWarehouse

KEYS = {"events": "event_id", "products": "item_id", "customers": "user_id"}


def load_info(data: ValidatedSource, as_of: datetime) -> pd.DataFrame:
    """raw.load_info's one row: source, reference time, counts read and loaded per table."""
    return pd.DataFrame([{
        "source": data.name,
        "as_of": as_of,
        "loaded_at": datetime.utcnow(),
        **{f"raw_{t}_rows": n for t, n in data.raw_counts.items()},
        **{f"loaded_{t}_rows": n for t, n in data.loaded_counts().items()},
    }])


def replace_load(warehouse: DuckDBWarehouse, data: ValidatedSource, as_of: datetime,
                 truth: dict[str, pd.DataFrame]) -> None:
    warehouse.replace_tables("raw", {
        **{t: getattr(data, t) for t in RAW_TABLES},
        "quarantine": data.quarantine,
        "load_info": load_info(data, as_of),
    })
    warehouse.replace_tables("truth", truth or {"empty": pd.DataFrame({"note": []})})


def append_load(warehouse: DuckDBWarehouse, data: ValidatedSource, as_of: datetime | None
                ) -> ValidatedSource:
    """Append a batch; returns it as it landed (events loaded before moved to its quarantine)."""
    with warehouse.connect() as con:
        stored = set(con.execute("select event_id from raw.events").df()["event_id"])
        data = without_stored_events(data, stored)
        previous = pd.Timestamp(con.execute("select as_of from raw.load_info").fetchone()[0])
        as_of = max(previous, pd.Timestamp(as_of or data.as_of)).to_pydatetime()
        con.execute("begin transaction")
        for table in RAW_TABLES:
            con.register("incoming", getattr(data, table))
            if table != "events":
                con.execute(f"delete from raw.{table} where {KEYS[table]} in "
                            f"(select {KEYS[table]} from incoming)")
            con.execute(f"insert into raw.{table} by name select * from incoming")
            con.unregister("incoming")
        con.register("incoming", data.quarantine)
        con.execute("insert into raw.quarantine by name select * from incoming")
        con.unregister("incoming")
        counts = [n for t in RAW_TABLES for n in (data.raw_counts[t], len(getattr(data, t)))]
        con.execute(
            "update raw.load_info set as_of = ?, loaded_at = ?, "
            + ", ".join(f"{kind}_{t}_rows = {kind}_{t}_rows + ?"
                        for t in RAW_TABLES for kind in ("raw", "loaded")),
            [as_of, datetime.utcnow(), *counts],
        )
        con.execute("commit")
    return replace(data, as_of=as_of)


def append_exposures(warehouse: DuckDBWarehouse, exposures: pd.DataFrame,
                     quarantine: pd.DataFrame) -> int:
    """Exposures drained from the stream into raw.exposures (made on the first), the malformed
    ones into raw.quarantine (table_name exposures); returns the rows raw.exposures holds. A
    replace load leaves raw.exposures as it is: the service's log is not the shop's history."""
    with warehouse.connect() as con:
        con.execute("create schema if not exists raw")
        con.register("incoming", exposures)
        con.execute("create table if not exists raw.exposures as select * from incoming limit 0")
        con.execute("begin transaction")
        con.execute("insert into raw.exposures by name select * from incoming")
        con.unregister("incoming")
        if len(quarantine):
            con.register("incoming", quarantine)
            con.execute("insert into raw.quarantine by name select * from incoming")
            con.unregister("incoming")
        con.execute("commit")
        return int(con.execute("select count(*) from raw.exposures").fetchone()[0])


def stored_exposure_ids(warehouse: DuckDBWarehouse) -> set[str]:
    with warehouse.connect() as con:
        found = con.execute("select count(*) from information_schema.tables where table_schema "
                            "= 'raw' and table_name = 'exposures'").fetchone()[0]
        if not found:
            return set()
        return set(con.execute("select event_id from raw.exposures").df()["event_id"])


def without_stored_events(data: ValidatedSource, stored: set[str]) -> ValidatedSource:
    """The batch with the events whose event_id is already stored moved to its quarantine."""
    again = data.events["event_id"].isin(stored).to_numpy()
    if not again.any():
        return data
    repeated = data.events[again]
    quarantined = pd.DataFrame({
        "table_name": "events",
        "row_number": pd.NA,  # a valid row of the batch; its position is not kept past validation
        "reason": "duplicate_event",
        "detail": "event_id " + repeated["event_id"] + " was loaded before",
        "record": repeated.to_json(orient="records", lines=True, date_format="iso")
        .strip().split("\n"),
    }).astype(QUARANTINE_COLUMNS)
    return replace(data, events=data.events[~again].reset_index(drop=True),
                   quarantine=pd.concat([data.quarantine, quarantined], ignore_index=True))
