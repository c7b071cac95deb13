"""Personalization consent, as a snapshot that travels with the model.

The bundle folder may hold `consent.parquet` (written by `save_consent` when the bundle is saved):
one row per customer, columns `user_id` (string) and `consent_personalization` (boolean, null =
never recorded). Serving reads it with `load_consent(bundle_folder, fallback)`; without it, a file
named by the serving settings (`TAILOR_CONSENT_PATH`, Parquet or CSV with the same two columns).

`False` means the customer opted out: they get the non-personalized answer. `None` (never recorded,
as in imported sources) and customers missing from the snapshot get `default`: personalized unless
the serving setting `consent_default` is false (`TAILOR_SERVING_CONSENT_DEFAULT=false`).

`refusal` is the one decision of whether an answer may be personal; every surface (the HTTP
service, `tailor recommend`, `tailor export-recommendations`, and later emails) asks it through
serving.visitors.Visitors.resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CONSENT_FILE = "consent.parquet"
COLUMNS = ("user_id", "consent_personalization")


@dataclass(frozen=True)
class ConsentSnapshot:
    opted_out: frozenset[str] = field(default_factory=frozenset)
    opted_in: frozenset[str] = field(default_factory=frozenset)
    default: bool = True  # for users never asked / missing from the snapshot
    source: str = "none"  # where the snapshot came from (for logs and /reload answers)

    def allows(self, user_id: str) -> bool:
        if user_id in self.opted_out:
            return False
        if user_id in self.opted_in:
            return True
        return self.default

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, default: bool = True,
                   source: str = "frame") -> ConsentSnapshot:
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"consent snapshot {source}: missing columns {missing}; "
                             f"expected {list(COLUMNS)}")
        values = frame["consent_personalization"].astype("boolean")
        ids = frame["user_id"].astype(str)
        return cls(opted_out=frozenset(ids[values.eq(False).fillna(False)].tolist()),
                   opted_in=frozenset(ids[values.eq(True).fillna(False)].tolist()),
                   default=default, source=source)


NO_CONSENT = "no_consent"
UNKNOWN_USER = "unknown_user"


def refusal(consent: ConsentSnapshot, user_id: str, known: bool) -> str | None:
    """Why `user_id` gets the non-personalized answer (`no_consent`, `unknown_user`: the model has
    no history of them), or None when the answer may be personal. Consent comes first: an opted-out
    user is reported as such whether or not the model knows them."""
    if not consent.allows(user_id):
        return NO_CONSENT
    return None if known else UNKNOWN_USER


def save_consent(customers: pd.DataFrame, folder: Path) -> Path:
    """Write the snapshot into a bundle folder (from `dim_customers` or raw customers)."""
    path = folder / CONSENT_FILE
    frame = pd.DataFrame({"user_id": customers["user_id"].astype(str),
                          "consent_personalization":
                              customers["consent_personalization"].astype("boolean")})
    frame.to_parquet(path, index=False)
    return path


def read_consent_file(path: Path, default: bool = True) -> ConsentSnapshot:
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"user_id": str})
        frame["consent_personalization"] = (
            frame["consent_personalization"].map(_parse_flag).astype("boolean"))
    else:
        frame = pd.read_parquet(path)
    return ConsentSnapshot.from_frame(frame, default=default, source=str(path))


def load_consent(bundle_folder: Path, fallback: Path | None = None,
                 default: bool = True) -> ConsentSnapshot:
    """The bundle's snapshot if it has one, else `fallback` if given, else everyone `default`."""
    inside = bundle_folder / CONSENT_FILE
    if inside.exists():
        return read_consent_file(inside, default)
    if fallback is not None:
        return read_consent_file(fallback, default)
    return ConsentSnapshot(default=default, source="none")


def _parse_flag(value) -> bool | None:
    if pd.isna(value):
        return None
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "t", "y"):
        return True
    if text in ("false", "0", "no", "f", "n"):
        return False
    if text == "":
        return None
    raise ValueError(f"consent_personalization: {value!r} is not a boolean")
