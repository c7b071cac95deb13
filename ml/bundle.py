"""The serving bundle: one folder holding the candidate index (ALS factors, neighbours, histories,
id maps, item metadata), the XGBoost ranker (when the hybrid won the selection; a single-source
contender has none) and the model card, saved and loaded by the same code.

Formats are open and pickle-free: numpy `.npz`, scipy sparse `.npz`, Parquet, XGBoost `.ubj`, JSON.
BentoML stores this folder as the `tailor` model, so the parts can never drift apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xgboost as xgb

from ml.candidates import CandidateIndex, CandidateParams
from ml.data import Catalog
from ml.ranking.hybrid import FittedContender

BUNDLE_FORMAT = 2  # 2: itemknn, ease and sequence sources; the ranking contender
# Optional in a bundle: user_id, segment (ml_customer_segments), for offers per segment.
SEGMENTS_FILE = "segments.parquet"
SPARSE = (
    "history",
    "purchases",
    "purchase_counts",
    "last_seen_days",
    "content_neighbors",
    "copurchase_neighbors",
    "itemknn_neighbors",
    "ease_neighbors",
    "sequence_neighbors",
    "recent",
)
FRAMES = ("item_stats", "user_stats")
ARRAYS = (
    "user_factors",
    "item_factors",
    "popularity",
    "trending",
    "user_segment",
    "category_codes",
    "categories",
    "user_category_share",
    "user_category_days",
    "user_ids",
)


@dataclass
class Bundle:
    model: FittedContender
    metadata: dict  # the model card: version, data window, params, metrics, promotion decision

    @property
    def version(self) -> str:
        return self.metadata["version"]


def save_bundle(model: FittedContender, folder: Path, metadata: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    index = model.index
    for name in SPARSE:
        sp.save_npz(folder / f"{name}.npz", getattr(index, name).tocsr())
    for name in FRAMES:
        getattr(index, name).to_parquet(folder / f"{name}.parquet")
    arrays = {name: np.asarray(getattr(index, name)) for name in ARRAYS}
    arrays = {n: a.astype(str) if a.dtype == object else a for n, a in arrays.items()}  # no pickle
    np.savez(folder / "arrays.npz", **arrays)
    catalog = index.catalog
    pd.DataFrame(
        {
            "item_id": catalog.item_ids,
            "category": catalog.category,
            "price": catalog.price,
            "created_at": catalog.created_at,
            "in_stock": catalog.in_stock,
        }
    ).join(catalog.text).to_parquet(folder / "catalog.parquet")
    if model.booster is not None:
        model.booster.save_model(folder / "ranker.ubj")
    card = {
        **metadata,
        "contender": model.contender,
        "bundle_format": BUNDLE_FORMAT,
        "cutoff": index.cutoff,
        "candidate_params": asdict(index.params),
    }
    (folder / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
    return folder


def load_bundle(folder: Path) -> Bundle:
    card = json.loads((folder / "model_card.json").read_text())
    if card.get("bundle_format") != BUNDLE_FORMAT:
        raise ValueError(
            f"{folder}: bundle_format {card.get('bundle_format')} is not "
            f"{BUNDLE_FORMAT}; retrain to get a bundle this code can read"
        )
    catalog_frame = pd.read_parquet(folder / "catalog.parquet")
    catalog = Catalog(
        item_ids=catalog_frame["item_id"].to_numpy().astype(str),
        category=catalog_frame["category"].to_numpy().astype(str),
        price=catalog_frame["price"].to_numpy(),
        created_at=catalog_frame["created_at"].to_numpy(),
        in_stock=catalog_frame["in_stock"].to_numpy(),
        text=catalog_frame[["title", "description", "category_path", "brand"]],
    )
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        values = {name: arrays[name] for name in ARRAYS}
    values.update({name: sp.load_npz(folder / f"{name}.npz").tocsr() for name in SPARSE})
    values.update({name: pd.read_parquet(folder / f"{name}.parquet") for name in FRAMES})
    booster = None
    if card["contender"] == "hybrid":
        booster = xgb.Booster()
        booster.load_model(folder / "ranker.ubj")
        booster.set_param({"nthread": 1})  # one request, one thread: the server scales by workers
    index = CandidateIndex(
        cutoff=card["cutoff"],
        params=CandidateParams(**card["candidate_params"]),
        catalog=catalog,
        **values,
    )
    return Bundle(FittedContender(index, booster, card["contender"]), card)
