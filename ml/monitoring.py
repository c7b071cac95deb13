"""Drift monitoring with Evidently 0.7: the only module that imports evidently.

Three reports compare what the serving model was trained on (its *reference*, saved in its bundle
by `save_reference` when it was trained) with the newest data:

- feature drift: the feature marts `ml_user_features` (users active in the last `window_days` before
  each as_of) and `ml_item_features` (the whole catalog), numeric and categorical columns;
- prediction drift: the champion's re-ranker scores, the categories and the candidate sources of
  its top-k for a sample of active users, at training time vs on today's data (the champion's
  ranker over a candidate index refit with the champion's settings on the newest events);
- target drift: session outcomes (add-to-cart, purchase) in the last `window_days` before each
  as_of, from `fct_interactions`.

Columns are declared explicitly (`FEATURE_TABLES`, a `DataDefinition` per report): ids and free
text are never features, and columns that move on an unchanged shop are left out: lifetime totals
(they grow with tenure) and ages (`days_since_*`, they grow with the clock). Methods are fixed
instead of Evidently's size-dependent default (p-values up to 1,000 rows, distances above):
Wasserstein distance (normed) for numeric and Jensen-Shannon distance for categorical columns,
effect sizes whose meaning does not change with the shop's size. A column drifts when its distance
reaches `column_threshold` (0.1, Evidently's default for both); `drift_share` is the share of
drifted columns, and retraining is due when it reaches `retrain_threshold` (0.1 of the 17 feature
columns: two drifting columns retrain, one does not; chosen with docs/benchmarks/drift.md).
Functions return a small `DriftSummary`; `DriftResult.save` writes Evidently's HTML and JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.data import Catalog, EventLog
from ml.evaluation.protocols import serve_split
from ml.point_in_time import FeatureStore
from ml.ranking.hybrid import FittedContender
from ml.ranking.training import TrainingParams, fit_split_index

REFERENCE_DIR = "reference"  # inside a model bundle


@dataclass(frozen=True)
class ColumnSpec:
    """The columns of one table that are compared; everything else (ids, text) is ignored."""

    id_column: str | None
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numerical + self.categorical


# Rates, shares, averages and decayed scores: their distribution is stable while the shop behaves
# the same. Lifetime totals (frequency, monetary, count_*) are left out: they grow with every
# customer's tenure and the shop's age, they drift on an unchanged shop (docs/benchmarks/drift.md).
FEATURE_TABLES: dict[str, ColumnSpec] = {
    "ml_user_features": ColumnSpec(
        id_column="user_id",
        numerical=(
            "recency_days",
            "engagement_score",
            "avg_dwell_seconds",
            "conversion_rate",
            "price_sensitivity",
            "top_category_share",
        ),
        categorical=("segment", "top_category"),
    ),
    "ml_item_features": ColumnSpec(
        id_column="item_id",
        numerical=(
            "price",
            "price_relative_to_category",
            "popularity_score",
            "conversion_rate",
            "cart_rate",
        ),
        categorical=("category_l1", "brand", "price_band", "is_in_stock"),
    ),
}
PREDICTION_COLUMNS = ColumnSpec(
    id_column="user_id", numerical=("score",), categorical=("category", "reason")
)
TARGET_COLUMNS = ColumnSpec(
    id_column="visit", numerical=(), categorical=("has_add_to_cart", "has_purchase")
)

METHOD_NAMES = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
}


@dataclass(frozen=True)
class MonitoringParams:
    window_days: int = 7  # the newest window: active users, sessions, the prediction sample
    column_threshold: float = 0.1  # a column drifts when its distance reaches this
    retrain_threshold: float = 0.1  # share of drifted feature columns at which to retrain
    num_method: str = "wasserstein"
    cat_method: str = "jensenshannon"
    sample_users: int = 500  # users in the prediction sample
    k: int = 10  # recommendations per user in the prediction sample
    seed: int = 7


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # "num" | "cat"
    method: str
    threshold: float
    score: float | None  # None when the column has no values on one side (then not drifted)
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    report: str  # feature_drift | prediction_drift | target_drift
    drift_share: float  # drifted columns / compared columns
    drifted_columns: tuple[str, ...]
    columns: tuple[ColumnDrift, ...]
    column_threshold: float
    methods: dict[str, str]  # column kind -> method
    rows: dict[str, dict[str, int]]  # table -> {"reference": n, "current": n}
    stats: dict[str, dict[str, float]] = field(default_factory=dict)  # e.g. rates, ref vs current

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict:
        return {**asdict(self), "n_columns": self.n_columns}

    def describe(self) -> str:
        drifted = ", ".join(self.drifted_columns) or "none"
        return (
            f"{len(self.drifted_columns)}/{self.n_columns} columns drifted "
            f"(share {self.drift_share:.2f}): {drifted}"
        )


@dataclass
class DriftResult:
    """A summary plus the Evidently snapshots behind it (one per compared table)."""

    summary: DriftSummary
    snapshots: dict[str, Any]  # table -> evidently Snapshot

    def save(self, folder: Path) -> dict[str, list[str]]:
        """Evidently's self-contained HTML and JSON snapshot per table; returns the file names."""
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, list[str]] = {"html": [], "json": []}
        for table, snapshot in self.snapshots.items():
            stem = f"{self.summary.report}__{table}"
            snapshot.save_html(str(folder / f"{stem}.html"))
            snapshot.save_json(str(folder / f"{stem}.json"))
            files["html"].append(f"{stem}.html")
            files["json"].append(f"{stem}.json")
        return files


# --------------------------------------------------------------------------------------------------
# The reference a model carries
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceSnapshot:
    """What a model was trained on, as far as monitoring needs it; saved inside its bundle."""

    as_of: pd.Timestamp
    user_features: pd.DataFrame
    item_features: pd.DataFrame
    predictions: pd.DataFrame  # user_id, rank, item_id, score, category, reason
    sessions: pd.DataFrame  # session outcomes (see session_outcomes) of the last SESSION_DAYS

    FRAMES = ("user_features", "item_features", "predictions", "sessions")

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.FRAMES:
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "reference.json").write_text(
            json.dumps({"as_of": self.as_of.isoformat(), "frames": list(self.FRAMES)}, indent=2)
        )
        return folder

    @classmethod
    def load(cls, folder: Path) -> ReferenceSnapshot:
        meta = json.loads((folder / "reference.json").read_text())
        frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in cls.FRAMES}
        return cls(as_of=pd.Timestamp(meta["as_of"]), **frames)


SESSION_DAYS = 90  # session outcomes kept in a reference; window_days can grow up to this


def build_reference(
    model: FittedContender,
    user_features: pd.DataFrame,
    item_features: pd.DataFrame,
    interactions: pd.DataFrame,
    as_of: pd.Timestamp,
    params: MonitoringParams = MonitoringParams(),
) -> ReferenceSnapshot:
    """The reference of a freshly trained model: marts, a prediction sample, session outcomes."""
    as_of = pd.Timestamp(as_of)
    return ReferenceSnapshot(
        as_of=as_of,
        # whole marts, so that columns monitored later have a reference too
        user_features=user_features.reset_index(drop=True),
        item_features=item_features.reset_index(drop=True),
        predictions=prediction_sample(model, user_features, params),
        sessions=session_outcomes(interactions, as_of - pd.Timedelta(days=SESSION_DAYS), as_of),
    )


def load_reference(bundle_folder: Path) -> ReferenceSnapshot | None:
    """The reference saved in a bundle; None for bundles trained before references existed."""
    folder = Path(bundle_folder) / REFERENCE_DIR
    return ReferenceSnapshot.load(folder) if (folder / "reference.json").exists() else None


# --------------------------------------------------------------------------------------------------
# Inputs of the reports
# --------------------------------------------------------------------------------------------------


def active_users(user_features: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Users with activity in the last `window_days`: the population a new batch of data touches."""
    return user_features[user_features["recency_days"] <= window_days].reset_index(drop=True)


def session_outcomes(
    interactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per session that started in (start, end]: visit, started_at, has_add_to_cart,
    has_purchase, count_views. A session is the source's session id, else the user's day.
    `interactions` has fct_interactions' columns (user_id, session_id, event_type, occurred_at)."""
    events = interactions[
        (interactions["occurred_at"] > start)
        & (interactions["occurred_at"] <= end)
        & ~interactions["event_type"].isin(["impression", "return"])
    ]
    day = events["user_id"].astype(str) + "@" + events["occurred_at"].dt.strftime("%Y-%m-%d")
    events = events.assign(
        visit=events["session_id"].astype("string").fillna(day),
        is_cart=events["event_type"] == "add_to_cart",
        is_purchase=events["event_type"] == "purchase",
        is_view=events["event_type"] == "view",
    )
    sessions = events.groupby("visit", sort=True).agg(
        started_at=("occurred_at", "min"),
        has_add_to_cart=("is_cart", "any"),
        has_purchase=("is_purchase", "any"),
        count_views=("is_view", "sum"),
    )
    return sessions.reset_index()


def prediction_sample(
    model: FittedContender, user_features: pd.DataFrame, params: MonitoringParams
) -> pd.DataFrame:
    """Top-k of `model` for up to `sample_users` active users it knows (seeded sample):
    user_id, rank, item_id, score, category, reason."""
    index = model.index
    lookup = index.user_index
    active = active_users(user_features, params.window_days)["user_id"].astype(str)
    users = np.array(sorted(lookup[u] for u in active if u in lookup), dtype=np.int64)
    users = users[index.has_history(users)]
    if len(users) > params.sample_users:
        rng = np.random.default_rng(params.seed)
        users = np.sort(rng.choice(users, params.sample_users, replace=False))
    columns = ["user_id", "rank", "item_id", "score", "category", "reason"]
    if len(users) == 0:
        return pd.DataFrame(columns=columns)
    recs = model.recommend(users.astype(np.int64), params.k)
    lengths = [len(items) for items in recs.items]
    items = np.concatenate(recs.items)
    return pd.DataFrame(
        {
            "user_id": np.repeat(index.user_ids[users], lengths),
            "rank": np.concatenate([np.arange(1, n + 1) for n in lengths]),
            "item_id": index.catalog.item_ids[items],
            "score": np.concatenate(recs.scores).astype(np.float64),
            "category": index.catalog.category[items],
            "reason": np.concatenate(recs.reasons),
        }
    )[columns]


def champion_on_current_data(
    champion: FittedContender, params: dict, log: EventLog, catalog: Catalog, as_of: float,
    features: FeatureStore,
) -> FittedContender:
    """The champion's ranker (or, for a single-source champion, its source) over a candidate
    index refit, with the champion's settings (`params`, its model card's), on every event up to
    `as_of` (the "serve" split's features): what it would score today."""
    settings = TrainingParams.from_dict(params)
    index = fit_split_index(log, catalog, serve_split(log, as_of + 1), settings, features)
    return FittedContender(index, champion.booster, champion.contender)


# --------------------------------------------------------------------------------------------------
# The three reports
# --------------------------------------------------------------------------------------------------


def feature_drift(
    reference: ReferenceSnapshot,
    user_features: pd.DataFrame,
    item_features: pd.DataFrame,
    params: MonitoringParams,
) -> DriftResult:
    """Feature marts: active users' features and the catalog's item features."""
    pairs = {
        "ml_user_features": (
            active_users(reference.user_features, params.window_days),
            active_users(user_features, params.window_days),
        ),
        "ml_item_features": (reference.item_features, item_features),
    }
    return _compare("feature_drift", pairs, FEATURE_TABLES, params)


def prediction_drift(
    reference: ReferenceSnapshot, current: pd.DataFrame, params: MonitoringParams
) -> DriftResult:
    """Score, category and source of the top-k: the reference sample vs `current`."""
    result = _compare(
        "prediction_drift",
        {"predictions": (reference.predictions, current)},
        {"predictions": PREDICTION_COLUMNS},
        params,
    )
    stats = {
        "mean_score": _pair(reference.predictions["score"].mean(), current["score"].mean()),
        **{
            f"share_{category}": _pair(share_ref, share_cur)
            for category, (share_ref, share_cur) in _shares(
                reference.predictions["category"], current["category"]
            ).items()
        },
    }
    return _with_stats(result, stats)


def target_drift(
    reference: ReferenceSnapshot,
    interactions: pd.DataFrame,
    as_of: pd.Timestamp,
    params: MonitoringParams,
) -> DriftResult:
    """Session outcomes in the last `window_days` before the reference's and the current as_of."""
    window = pd.Timedelta(days=params.window_days)
    ref = reference.sessions[reference.sessions["started_at"] > reference.as_of - window]
    cur = session_outcomes(interactions, pd.Timestamp(as_of) - window, pd.Timestamp(as_of))
    result = _compare(
        "target_drift", {"sessions": (ref, cur)}, {"sessions": TARGET_COLUMNS}, params
    )
    stats = {
        "add_to_cart_rate": _pair(ref["has_add_to_cart"].mean(), cur["has_add_to_cart"].mean()),
        "conversion_rate": _pair(ref["has_purchase"].mean(), cur["has_purchase"].mean()),
        "sessions": _pair(len(ref), len(cur)),
    }
    return _with_stats(result, stats)


# --------------------------------------------------------------------------------------------------
# Evidently
# --------------------------------------------------------------------------------------------------


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: ColumnSpec,
    params: MonitoringParams,
    name: str = "data",
) -> DriftResult:
    """One table, reference vs current (the building block of the reports)."""
    return _compare(name, {name: (reference, current)}, {name: spec}, params)


def _compare(
    report: str,
    pairs: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
    specs: dict[str, ColumnSpec],
    params: MonitoringParams,
) -> DriftResult:
    columns: list[ColumnDrift] = []
    snapshots: dict[str, Any] = {}
    rows: dict[str, dict[str, int]] = {}
    prefix = len(pairs) > 1
    for table, (reference, current) in pairs.items():
        spec = specs[table]
        reference, current = _prepared(reference, spec), _prepared(current, spec)
        rows[table] = {"reference": len(reference), "current": len(current)}
        comparable = [
            c for c in spec.columns if reference[c].notna().any() and current[c].notna().any()
        ]
        table_columns: list[ColumnDrift] = []
        if comparable:  # nothing to compare when either side is empty
            table_columns, snapshots[table] = _run_evidently(
                reference, current, spec, comparable, params
            )
        empty = [
            ColumnDrift(c, _kind(spec, c), "", params.column_threshold, None, False)
            for c in spec.columns
            if c not in comparable
        ]
        for col in table_columns + empty:
            columns.append(
                ColumnDrift(
                    f"{table}.{col.column}" if prefix else col.column,
                    col.kind,
                    col.method,
                    col.threshold,
                    col.score,
                    col.drifted,
                )
            )
    compared = [c for c in columns if c.score is not None]
    drifted = tuple(c.column for c in compared if c.drifted)
    summary = DriftSummary(
        report=report,
        drift_share=len(drifted) / len(compared) if compared else 0.0,
        drifted_columns=drifted,
        columns=tuple(columns),
        column_threshold=params.column_threshold,
        methods={"num": METHOD_NAMES[params.num_method], "cat": METHOD_NAMES[params.cat_method]},
        rows=rows,
    )
    return DriftResult(summary, snapshots)


def _prepared(frame: pd.DataFrame, spec: ColumnSpec) -> pd.DataFrame:
    """Numeric columns as float, categorical ones as strings (NaN stays missing), nothing else."""
    out = pd.DataFrame(index=frame.index)
    if spec.id_column and spec.id_column in frame:
        out[spec.id_column] = frame[spec.id_column].astype(str)
    for column in spec.numerical:
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
    for column in spec.categorical:
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        out[column] = (
            values.astype("object")
            .where(values.notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
    return out.reset_index(drop=True)


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: ColumnSpec,
    columns: list[str],
    params: MonitoringParams,
) -> tuple[list[ColumnDrift], Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        id_column=spec.id_column if spec.id_column in reference else None,
        numerical_columns=[c for c in spec.numerical if c in columns],
        categorical_columns=[c for c in spec.categorical if c in columns],
    )
    preset = DataDriftPreset(
        columns=columns,
        drift_share=params.retrain_threshold,
        num_method=params.num_method,
        cat_method=params.cat_method,
        threshold=params.column_threshold,
    )
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    failed = {
        t["metric_config"]["metric_id"]
        for t in result["tests"]
        if t["metric_config"]["params"]["type"] == "evidently:metric_v2:ValueDrift"
        and t["status"] == "FAIL"
    }
    drifts = []
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"] != "evidently:metric_v2:ValueDrift":
            continue
        drifts.append(
            ColumnDrift(
                column=config["column"],
                kind=_kind(spec, config["column"]),
                method=METHOD_NAMES.get(config["method"], config["method"]),
                threshold=float(config["threshold"]),
                score=float(metric["value"]),
                drifted=metric["id"] in failed,
            )
        )
    return drifts, snapshot


def _kind(spec: ColumnSpec, column: str) -> str:
    return "num" if column in spec.numerical else "cat"


def _pair(reference: float, current: float) -> dict[str, float]:
    return {"reference": float(reference), "current": float(current)}


def _shares(reference: pd.Series, current: pd.Series) -> dict[str, tuple[float, float]]:
    ref = reference.value_counts(normalize=True)
    cur = current.value_counts(normalize=True)
    return {
        str(c): (float(ref.get(c, 0.0)), float(cur.get(c, 0.0)))
        for c in sorted(set(ref.index) | set(cur.index))
    }


def _with_stats(result: DriftResult, stats: dict[str, dict[str, float]]) -> DriftResult:
    return DriftResult(replace(result.summary, stats=stats), result.snapshots)


# -- report payloads: the JSON summaries status and governance read ------------------------------


def drift_payload(result: DriftResult, run_id: str, champion: dict, params: MonitoringParams,
                  reference_as_of: pd.Timestamp, current_as_of: pd.Timestamp,
                  files: dict[str, list[str]]) -> dict:
    """One compared report: its summary, what it compared, the verdict, its Evidently files."""
    summary = result.summary
    return {
        "status": "ok",
        **_header(summary.report, run_id, champion, params),
        "reference_as_of": pd.Timestamp(reference_as_of).isoformat(),
        "current_as_of": pd.Timestamp(current_as_of).isoformat(),
        "dataset_drift": summary.drift_share >= params.retrain_threshold,
        **summary.to_dict(),
        "folder": f"drift/runs/{run_id}",
        "files": files,
    }


def no_reference_payload(report: str, run_id: str, champion: dict | None,
                         params: MonitoringParams) -> dict:
    """Nothing to compare with yet: no champion, or one trained before references existed."""
    reason = (
        "no promoted model yet"
        if champion is None
        else f"{champion['tag']} carries no drift reference (trained before monitoring); retrain"
    )
    return {
        "status": "no_reference",
        "reason": reason,
        **_header(report, run_id, champion, params),
        "drift_share": None,  # nothing was compared: unknown, not "no drift"
        "drifted_columns": [],
    }


def _header(report: str, run_id: str, champion: dict | None, params: MonitoringParams) -> dict:
    return {
        "report": report,
        "run_id": run_id,
        "created_at": datetime.utcnow().isoformat(timespec="seconds"),
        "reference_model": champion and champion["tag"],
        "reference_version": champion and champion["version"],
        "window_days": params.window_days,
        "retrain_threshold": params.retrain_threshold,
    }
