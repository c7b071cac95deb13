"""Experiments as the pipeline keeps them: the definitions file, every version of every
definition in the warehouse (`experiments.definitions`), the file the service reads, the dynamic
partitions (one per experiment) of `experiment_report`, and the report files.

- `<home>/experiments.yaml`: the definitions (a shop keeps it in version control; `tailor
  experiment create|stop` edit it);
- `experiments.definitions` (DuckDB): name, version, definition (JSON), recorded_at: a row per
  definition that changed; a started experiment's frozen fields are checked against its latest
  row, so a hand edit of the file cannot slip a new salt or weights past the registry;
- `<home>/experiments/published.json`: what passed, for the service (TAILOR_EXPERIMENTS_PATH);
- `<reports>/experiments/<name>.json|.html`: the latest report of each experiment.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from ml.experiments.design import (
    Definitions,
    Experiment,
    check_edits,
    definitions_version,
    read_definitions,
    write_published,
)
from orchestration.lib.warehouse import DuckDBWarehouse

PARTITIONS = dg.DynamicPartitionsDefinition(name="experiments")
TABLE = "experiments.definitions"


class ExperimentFiles(dg.ConfigurableResource):
    definitions: str  # <home>/experiments.yaml
    published: str  # <home>/experiments/published.json
    reports: str  # <reports>/experiments

    def read(self) -> Definitions:
        return read_definitions(Path(self.definitions))

    def publish(self, definitions: Definitions) -> str:
        return write_published(Path(self.published), definitions)

    def report_path(self, name: str, suffix: str) -> Path:
        return Path(self.reports) / f"{name}.{suffix}"


def recorded(warehouse: DuckDBWarehouse) -> Definitions:
    """The latest recorded version of every experiment (none before the first registry run)."""
    with warehouse.connect() as con:
        con.execute("create schema if not exists experiments")
        con.execute(f"create table if not exists {TABLE} (name varchar, version varchar, "
                    "definition varchar, recorded_at timestamp)")
        rows = con.execute(f"select name, definition from {TABLE} qualify row_number() over "
                           "(partition by name order by recorded_at desc) = 1").fetchall()
    return Definitions(experiments=[Experiment.model_validate_json(text) for _, text in rows])


def register(warehouse: DuckDBWarehouse, definitions: Definitions, now: datetime) -> list[str]:
    """Check the file's definitions against what the warehouse recorded (ml.experiments.design
    check_edits: a DefinitionError names the refused field), then record those that changed;
    returns their names."""
    before = recorded(warehouse)
    check_edits(before, definitions, now)
    changed = [e for e in definitions.experiments if before.named(e.name) != e]
    if changed:
        rows = pd.DataFrame({
            "name": [e.name for e in changed],
            "version": [definitions_version(Definitions(experiments=[e])) for e in changed],
            "definition": [e.model_dump_json() for e in changed],
            "recorded_at": [now] * len(changed)})
        with warehouse.connect() as con:
            con.register("incoming", rows)
            con.execute(f"insert into {TABLE} select * from incoming")
            con.unregister("incoming")
    return [e.name for e in changed]


def history(warehouse: DuckDBWarehouse, name: str) -> list[dict]:
    recorded(warehouse)  # the table exists
    frame = warehouse.query(f"select version, definition, recorded_at from {TABLE} where name = ? "
                            "order by recorded_at", [name])
    return [{"version": r.version, "recorded_at": str(r.recorded_at),
             "definition": json.loads(r.definition)} for r in frame.itertuples()]


def exposures_of(warehouse: DuckDBWarehouse, name: str) -> pd.DataFrame:
    """raw.exposures of one experiment (empty, with the columns, before any was drained)."""
    from ml.schema import EXPOSURE_COLUMNS

    with warehouse.connect() as con:
        there = con.execute("select count(*) from information_schema.tables where table_schema "
                            "= 'raw' and table_name = 'exposures'").fetchone()[0]
        if not there:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in EXPOSURE_COLUMNS.items()})
        return con.execute("select * from raw.exposures where experiment = ?", [name]).df()


def events_since(warehouse: DuckDBWarehouse, since: datetime) -> pd.DataFrame:
    """raw.events of the outcome types from `since` on (the pre-period included by the caller)."""
    from ml.experiments.analysis import OUTCOMES

    kinds = ", ".join(f"'{k}'" for k in OUTCOMES)
    return warehouse.query(f"select * from raw.events where occurred_at >= ? and event_type in "
                           f"({kinds})", [since])
