"""The challenger: the evaluated settings refit on everything up to as_of, with all that serving and
monitoring need of it, made by one function and written into one folder by another.

The folder is the bundle (`ml.bundle`) plus the snapshots the model was fit on: consent
(`ml.consent`, honoured by serving), the customer segments (offers per segment) and the drift
reference (`ml.monitoring`: the marts, predictions and outcomes later data is compared with).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from ml.bundle import SEGMENTS_FILE, save_bundle
from ml.consent import save_consent
from ml.data import Catalog, EventLog, Windows
from ml.evaluation.protocols import serve_split
from ml.evaluation.reports import model_card
from ml.monitoring import REFERENCE_DIR, ReferenceSnapshot, build_reference
from ml.point_in_time import FeatureStore
from ml.ranking.hybrid import FittedContender
from ml.ranking.training import TrainingParams, train


@dataclass
class Challenger:
    model: FittedContender
    card: dict
    customers: pd.DataFrame  # dim_customers: the consent snapshot
    segments: pd.DataFrame  # user_id, segment
    reference: ReferenceSnapshot


@dataclass(frozen=True)
class Marts:
    """The marts a challenger is built from besides the event log (main.<name> tables)."""

    customers: pd.DataFrame  # dim_customers
    segments: pd.DataFrame  # ml_customer_segments
    user_features: pd.DataFrame  # ml_user_features
    item_features: pd.DataFrame  # ml_item_features
    interactions: pd.DataFrame  # fct_interactions
    event_weights: pd.DataFrame  # event_type_weights (dbt seed): event_type, weight


def build_challenger(log: EventLog, catalog: Catalog, windows: Windows, evaluation: dict,
                     marts: Marts, features: FeatureStore, run_id: str, code_version: str
                     ) -> Challenger:
    """The selected contender refit on every event up to as_of (the hybrid's ranker labelled with
    each customer's latest basket)."""
    params = TrainingParams.from_dict(evaluation["params"])
    model = train(log, catalog, serve_split(log, windows.as_of + 1), params, features,
                  evaluation["contender"])
    reference = build_reference(model, marts.user_features, marts.item_features,
                                marts.interactions, datetime.utcfromtimestamp(windows.as_of))
    card = model_card(run_id, code_version, log, catalog, windows, evaluation)
    # What online profiles weigh events by (ml.online.profile), the same weights training used.
    card["event_weights"] = dict(zip(marts.event_weights["event_type"].astype(str),
                                     marts.event_weights["weight"].astype(float), strict=True))
    return Challenger(
        model=model,
        card=card,
        customers=marts.customers,
        segments=marts.segments[["user_id", "segment"]],
        reference=reference,
    )


def save_challenger(challenger: Challenger, folder: Path) -> Path:
    save_bundle(challenger.model, folder, challenger.card)
    save_consent(challenger.customers, folder)
    challenger.segments.to_parquet(folder / SEGMENTS_FILE, index=False)
    challenger.reference.save(folder / REFERENCE_DIR)
    return folder
