"""The DuckDB warehouse as a Dagster resource: the one place tables are written and read."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd

from ml.schema import RAW_TABLES


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

    def query(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, parameters).df()

    def as_of(self) -> datetime:
        """The reference time of the current load (raw.load_info)."""
        return pd.Timestamp(
            self.query("select as_of from raw.load_info")["as_of"].iloc[0]
        ).to_pydatetime()

    def raw_rows(self, table: str) -> int:
        """Rows of one raw table as read from the source, before quarantine (raw.load_info)."""
        if table not in RAW_TABLES:
            raise ValueError(f"table: {table!r} is not one of {', '.join(RAW_TABLES)}")
        return int(self.query(f"select raw_{table}_rows as n from raw.load_info")["n"].iloc[0])

    def quarantine_by_reason(self, table: str) -> pd.DataFrame:
        """reason, rows, first_row, first_detail: one raw table's quarantine by reason."""
        with self.connect() as con:
            return con.execute(
                "select reason, count(*) as rows, min(row_number) as first_row, "
                "arg_min(detail, row_number) as first_detail "
                "from raw.quarantine where table_name = ? group by reason order by rows desc",
                [table],
            ).df()

    def load_info(self) -> dict:
        """The current load's one raw.load_info row: source, as_of, raw_/loaded_<table>_rows."""
        return self.query("select * from raw.load_info").iloc[0].to_dict()

    def quarantine_counts(self) -> dict[str, dict[str, int]]:
        """{table: {reason: rows}} over raw.quarantine, tables and reasons in name order."""
        with self.connect() as con:
            rows = con.execute(
                "select table_name, reason, count(*) from raw.quarantine group by all order by all"
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for table, reason, n in rows:
            counts.setdefault(table, {})[reason] = n
        return counts

    def row_counts(self) -> dict[str, int]:
        """Rows of every base table, keyed `schema.table`, in name order."""
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
