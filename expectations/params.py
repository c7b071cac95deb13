"""The data gates' thresholds, apart from the suites (and from Great Expectations, a slow
import): what the settings file's [gates] table and the checks' run config set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from ml.schema import QUARANTINE_REASONS


@dataclass(frozen=True)
class SuiteParams:
    """Thresholds a shop tunes (docs/data-contract.md, "Gates"); defaults suit the synthetic
    store and the public datasets. The run-time knobs are orchestration's DataGateConfig."""

    as_of: datetime  # the load's reference time: freshness is measured against it
    min_events: int = 100
    max_staleness_days: float = 3.0  # the newest event must be at most this old at as_of
    min_users: int = 10
    min_items: int = 10
    max_quantity: int = 10_000
    # Quarantine, as a share of a raw table's rows as read: above a limit, the table's gate fails.
    # Real exports lose about 1-3% (Online Retail: duplicates, fees); half a file is a format bug.
    max_quarantine_share: float = 0.10  # all reasons together
    max_quarantine_share_per_reason: float = 0.05  # any one reason, unless overridden below
    max_quarantine_share_by_reason: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and value < 0:
                raise ValueError(f"{f.name}: must be >= 0, got {value}")
        shares = {
            "max_quarantine_share": self.max_quarantine_share,
            "max_quarantine_share_per_reason": self.max_quarantine_share_per_reason,
            **{
                f"max_quarantine_share_by_reason.{r}": v
                for r, v in self.max_quarantine_share_by_reason.items()
            },
        }
        for name, share in shares.items():
            if not 0 <= share <= 1:
                raise ValueError(f"{name}: a share between 0 and 1 (0.05 = 5%), got {share}")
        unknown = sorted(set(self.max_quarantine_share_by_reason) - set(QUARANTINE_REASONS))
        if unknown:
            raise ValueError(
                f"max_quarantine_share_by_reason: unknown reason(s) {unknown}; "
                f"reasons are {list(QUARANTINE_REASONS)}"
            )
