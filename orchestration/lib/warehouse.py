"""The DuckDB warehouse as a Dagster resource: the one place tables are written and read."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd


class DuckDBWarehouse(dg.ConfigurableResource):
    """A DuckDB file. DuckDB allows one writing process at a time: steps share pool "duckdb".

    Connections are always read-write: within one process DuckDB refuses a read-only connection
    to a file that dbt-duckdb (row counts) or another step already holds open read-write.
    """

    path: str

    @contextmanager
    def connect(self):
        connection = duckdb.connect(self.path)
        try:
            yield connection
        finally:
            connection.close()

    def replace_tables(self, schema: str, tables: dict[str, pd.DataFrame]) -> None:
        """Replace several tables of one schema in a single transaction (all or nothing)."""
        with self.connect() as con:
            con.execute(f"create schema if not exists {schema}")
            con.execute("begin transaction")
            for name, frame in tables.items():
                con.register("incoming", frame)
                con.execute(f"create or replace table {schema}.{name} as select * from incoming")
                con.unregister("incoming")
            con.execute("commit")

    def read_table(self, relation: str) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(f"select * from {relation}").df()

    def query(self, sql: str) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql).df()

    def as_of(self) -> datetime:
        """The reference time of the current load (raw.load_info)."""
        return pd.Timestamp(
            self.query("select as_of from raw.load_info")["as_of"].iloc[0]
        ).to_pydatetime()

    def row_counts(self) -> dict[str, int]:
        with self.connect() as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' order by 1, 2"
            ).fetchall()
            return {
                f"{schema}.{name}": con.execute(
                    f'select count(*) from "{schema}"."{name}"'
                ).fetchone()[0]
                for schema, name in tables
            }
