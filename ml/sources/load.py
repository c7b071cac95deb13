"""One entry point from a source name to validated contract tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from ml.sources.contract import RawSource, ValidatedSource, validate_source
from ml.sources.files import load_files
from ml.sources.online_retail import load_online_retail
from ml.sources.rees46 import load_rees46
from ml.synthetic import SyntheticParams, generate_store
from ml.synthetic.days import DriftParams, simulate_days

SOURCES = ("synthetic", "online-retail", "rees46", "files", "simulated-days")


@dataclass(frozen=True)
class SourceRequest:
    source: str = "synthetic"
    events_path: str | None = None  # the source file for online-retail and rees46, events for files
    products_path: str | None = None
    customers_path: str | None = None
    sep: str | None = None  # CSV separator of the files source; None: found from each header
    # files source: per table, the shop's column names -> the contract's (settings [columns])
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)
    simulated: DriftParams = field(default_factory=DriftParams)  # simulated-days


@dataclass(frozen=True)
class StoredTables:
    """What the warehouse holds now (raw.*): the simulated-days source continues it."""

    events: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    as_of: datetime


@dataclass(frozen=True)
class LoadedSource:
    validated: ValidatedSource
    truth: dict[str, pd.DataFrame]  # the synthetic store's hidden truth; empty for real sources
    note: str = ""  # what was made, for a human (simulated-days)


def load_source(request: SourceRequest, now: datetime | None = None,
                stored: StoredTables | None = None) -> LoadedSource:
    """`stored`: the warehouse's raw tables, which the simulated-days source continues."""
    if request.source not in SOURCES:
        raise ValueError(f"source: {request.source!r} is not one of {', '.join(SOURCES)}")
    if request.sep is not None and request.source != "files":
        raise ValueError(f"sep: only the files source takes a separator, not {request.source!r}")
    if request.source == "synthetic":
        store = generate_store(request.synthetic)
        raw = RawSource("synthetic", store.events, store.products, store.customers)
        return LoadedSource(validate_source(raw, now=now), store.truth)
    if request.source == "simulated-days":
        if stored is None:
            raise ValueError("source: simulated-days continues the stored raw tables; none given")
        batch = simulate_days(stored.events, stored.products, stored.customers, stored.as_of,
                              request.simulated)
        raw = RawSource("simulated", batch.events, batch.products, batch.customers)
        return LoadedSource(validate_source(raw, now=now or batch.window_end), {},
                            note=batch.describe())
    if not request.events_path:
        raise ValueError(f"events_path: source {request.source!r} needs a file (--events PATH)")
    if request.source == "online-retail":
        raw = load_online_retail(request.events_path)
    elif request.source == "rees46":
        raw = load_rees46(request.events_path)
    else:
        raw = load_files(
            request.events_path, request.products_path, request.customers_path, sep=request.sep,
            columns=request.columns,
        )
    return LoadedSource(validate_source(raw, now=now), truth={})
