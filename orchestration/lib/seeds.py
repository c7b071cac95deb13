"""dbt's seeds read by Python outside dbt: only where no model carries them yet."""

from __future__ import annotations

import csv

from orchestration.lib.env import REPO_ROOT

EVENT_TYPE_WEIGHTS = REPO_ROOT / "transforms" / "seeds" / "event_type_weights.csv"


def event_type_weights() -> dict[str, float]:
    """The event-type weights of dbt's seed (what the stream workers apply before any model has
    been promoted; a model's card carries the weights it was trained with)."""
    with EVENT_TYPE_WEIGHTS.open() as f:
        return {row["event_type"]: float(row["weight"]) for row in csv.DictReader(f)}
