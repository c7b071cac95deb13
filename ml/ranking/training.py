"""Training, honest evaluation and tuning of the hybrid recommender.

Time is the only split (windows from dbt's `ml_temporal_split`):

    ... history ... | validation window | test window | as_of

- The re-ranker learns from labels in the window just before a cutoff, with candidates and features
  computed from the events before that window; the candidate index is then refit up to the cutoff.
  So features never see their labels (tests/ml/test_training.py proves it).
- Tuning and promotion look at the validation window; the reported quality is the test window, where
  the model was fit on everything before `test_start`, its ranker labelled on the validation window.
- The served model is refit the same way on everything up to `as_of`.
Every model is judged by ranking the full catalog (no sampled negatives) beside the baselines
popularity, repeat-purchase and ALS alone, under two protocols: `all` purchases count, or only `new`
items (never bought before by that user; already-bought items are then not recommended).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ml.candidates import SOURCES, AlsParams, CandidateIndex, CandidateParams, fit_als, fit_index
from ml.data import SECONDS_PER_DAY, Catalog, EventLog, Windows, relevant_purchases
from ml.evaluation.metrics import ranking_report
from ml.ranking.features import RankerParams, fit_ranker, labels_for, pair_features, score_pairs
from ml.ranking.hybrid import (
    BASELINES,
    HybridModel,
    _strongest_source,
    _top_per_user,
    recommend_baseline,
)

PROTOCOLS = ("all", "new")
K = 20  # recommendations scored per user (Recall@20 needs 20)


@dataclass(frozen=True)
class TrainingParams:
    als: AlsParams = field(default_factory=AlsParams)
    candidates: CandidateParams = field(default_factory=CandidateParams)
    ranker: RankerParams = field(default_factory=RankerParams)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingParams:
        return cls(
            AlsParams(**values["als"]),
            CandidateParams(**values["candidates"]),
            RankerParams(**values["ranker"]),
        )

    def with_changes(self, changes: dict) -> TrainingParams:
        """These settings with some changed, by stage: {"als": {"factors": 32}, "ranker": {...}}.
        An unknown stage or setting, or a value of the wrong type, is a ValueError naming it."""
        stages = asdict(self)
        for stage, values in changes.items():
            if stage not in stages:
                raise ValueError(f"{stage}: unknown stage; expected one of {sorted(stages)}")
            for name, value in values.items():
                if name not in stages[stage]:
                    raise ValueError(f"{stage}.{name}: unknown setting; expected one of "
                                     f"{sorted(stages[stage])}")
                default = stages[stage][name]
                if not isinstance(value, type(default)) and not (
                        isinstance(default, float) and isinstance(value, int)):
                    raise ValueError(f"{stage}.{name}: expected {type(default).__name__}, got "
                                     f"{value!r}")
                stages[stage][name] = type(default)(value)
        return TrainingParams.from_dict(stages)


@dataclass(frozen=True)
class TuningBudget:
    """How many settings to try per stage (the first trial is always the current defaults)."""

    als_trials: int = 4
    ranker_trials: int = 4
    seed: int = 7


ALS_SPACE = {
    "factors": [32, 64, 128],
    "regularization": [0.01, 0.05, 0.1, 0.5],
    "alpha": [1.0, 5.0, 10.0, 20.0, 40.0],
    "iterations": [10, 15, 25],
}
# Bounded by serving cost (see RankerParams): at most 80 trees of depth 6.
RANKER_SPACE = {
    "max_depth": [4, 5, 6],
    "learning_rate": [0.1, 0.15, 0.25],
    "rounds": [40, 60, 80],
    "objective": ["rank:ndcg", "rank:pairwise", "rank:map"],
    "min_child_weight": [1.0, 10.0, 50.0],
}


@dataclass
class EvaluationSet:
    """Users, truth and the hybrid's candidate pairs with features, for one window and protocol."""

    users: np.ndarray
    truth: dict[int, set[int]]
    pairs: pd.DataFrame
    features: np.ndarray
    cold_users: int


def ranker_training_set(
    log: EventLog, catalog: Catalog, cutoff: float, label_days: float, params: TrainingParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features from events before `cutoff - label_days`, labels = purchases in the label window."""
    label_start = cutoff - label_days * SECONDS_PER_DAY
    index = fit_index(log, catalog, label_start, params.als, params.candidates)
    truth = relevant_purchases(log, label_start, cutoff)
    users = _known(index, truth)
    pairs = index.candidates(users)
    return pair_features(index, pairs), labels_for(pairs, truth), pairs["user"].to_numpy()


def train_hybrid(
    log: EventLog, catalog: Catalog, cutoff: float, label_days: float, params: TrainingParams
) -> HybridModel:
    features, labels, users = ranker_training_set(log, catalog, cutoff, label_days, params)
    booster = fit_ranker(features, labels, users, params.ranker)
    return HybridModel(fit_index(log, catalog, cutoff, params.als, params.candidates), booster)


def evaluation_set(
    index: CandidateIndex, log: EventLog, end: float, protocol: str
) -> EvaluationSet:
    exclude = index.purchase_counts if protocol == "new" else None
    truth = relevant_purchases(log, index.cutoff, end, exclude=exclude)
    users = _known(index, truth)
    pairs = index.candidates(users, exclude_purchased=protocol == "new")
    return EvaluationSet(
        users,
        {u: truth[u] for u in users.tolist()},
        pairs,
        pair_features(index, pairs),
        cold_users=len(truth) - len(users),
    )


def evaluate(
    model: HybridModel, log: EventLog, end: float, sets: dict[str, EvaluationSet] | None = None
) -> dict:
    """Metric tables for both protocols: hybrid and baselines, plus per-source candidate recall."""
    index = model.index
    sets = sets or {p: evaluation_set(index, log, end, p) for p in PROTOCOLS}
    report = {}
    for protocol, data in sets.items():
        exclude = protocol == "new"
        models = {
            name: ranking_report(
                data.truth,
                recommend_baseline(index, name, data.users, K, exclude).as_dict(),
                index.catalog.size,
            )
            for name in BASELINES
        }
        models["hybrid"] = _hybrid_report(model, data, exclude)
        report[protocol] = {
            "models": models,
            "candidate_recall": candidate_recall(data),
            "cold_users_skipped": data.cold_users,
        }
    return report


def candidate_recall(data: EvaluationSet) -> dict[str, float]:
    """Share of the relevant items each source (and the union) put among the candidates."""
    relevant = data.pairs[labels_for(data.pairs, data.truth) > 0]
    total = sum(len(items) for items in data.truth.values())
    recall = {s: float(relevant[f"{s}_rank"].notna().sum() / total) for s in SOURCES}
    recall["union"] = float(len(relevant) / total)
    return recall


def tune(
    log: EventLog,
    catalog: Catalog,
    windows: Windows,
    base: TrainingParams,
    budget: TuningBudget,
    progress=print,
) -> tuple[TrainingParams, list[dict]]:
    """Random search on the validation window: ALS first (ALS-alone NDCG@10), then the ranker
    (hybrid NDCG@10, protocol `all`) on candidates from the best ALS; and, when that ALS is not
    `base`'s, the hybrid of `base` as it is, so that the result is never worse on this window
    than the settings tuning started from. Returns the best settings and every trial; `progress`
    gets a line after each trial (model_tuning passes its Dagster log)."""
    rng = np.random.default_rng(budget.seed)
    trials: list[dict] = []
    cutoff, end = windows.validation_start, windows.test_start
    index = fit_index(log, catalog, cutoff, base.als, base.candidates)
    evaluation = evaluation_set(index, log, end, "all")

    best_als, best_score = base.als, -1.0
    for trial in range(budget.als_trials):
        als = base.als if trial == 0 else replace(base.als, **_sample(ALS_SPACE, rng))
        started = time.monotonic()
        user_factors, item_factors = fit_als(index.history, als)
        trial_index = replace(index, user_factors=user_factors, item_factors=item_factors)
        recs = recommend_baseline(trial_index, "als", evaluation.users, K)
        score = ranking_report(evaluation.truth, recs.as_dict(), catalog.size)["ndcg@10"]
        trials.append(_trial("als", als, score, started))
        if score > best_score:
            best_als, best_score = als, score
        progress(_progress_line(trials[-1], trial + 1, budget.als_trials, best_score))

    rankers = [base.ranker] + [replace(base.ranker, **_sample(RANKER_SPACE, rng))
                               for _ in range(budget.ranker_trials - 1)]
    contenders = [("ranker", replace(base, als=best_als), rankers)]
    if best_als != base.als:
        contenders.append(("as started", base, [base.ranker]))
    best, best_score = base, -1.0
    for stage, params, stage_rankers in contenders:
        features, labels, users = ranker_training_set(
            log, catalog, cutoff, windows.validation_days, params
        )
        trial_index = fit_index(log, catalog, cutoff, params.als, params.candidates)
        evaluation = evaluation_set(trial_index, log, end, "all")
        for n, ranker in enumerate(stage_rankers, 1):
            started = time.monotonic()
            model = HybridModel(trial_index, fit_ranker(features, labels, users, ranker))
            score = _hybrid_report(model, evaluation, exclude=False)["ndcg@10"]
            trials.append(_trial(stage, ranker if stage == "ranker" else params, score, started))
            if score > best_score:
                best, best_score = replace(params, ranker=ranker), score
            progress(_progress_line(trials[-1], n, len(stage_rankers), best_score))
    return best, trials


def _progress_line(trial: dict, n: int, of: int, best: float) -> str:
    """What `tune` reports after each trial: stage, n/N, NDCG@10 and the best so far (of the ALS
    stage, or of the hybrids), seconds, and the settings tried."""
    settings = " ".join(f"{name}={value}" for name, value in _flat(trial["params"]).items())
    return (f"tuning {trial['stage']} {n}/{of}: ndcg@10 {trial['ndcg@10']:.4f} "
            f"(best {best:.4f}) in {trial['seconds']:.1f} s; {settings}")


def _flat(values: dict, prefix: str = "") -> dict:
    """{"als": {"factors": 64}} -> {"als.factors": 64}."""
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _trial(stage: str, params, score: float, started: float) -> dict:
    """One tuning trial as kept in reports/models/model_tuning.json."""
    return {"stage": stage, "params": asdict(params), "ndcg@10": score,
            "seconds": round(time.monotonic() - started, 2)}


def _hybrid_report(model: HybridModel, data: EvaluationSet, exclude: bool) -> dict:
    scores = score_pairs(model.booster, data.features)
    recs = _top_per_user(
        model.index,
        data.users,
        data.pairs["user"].to_numpy(),
        data.pairs["item"].to_numpy(),
        scores,
        _strongest_source(data.pairs),
        K,
        exclude,
    )
    return ranking_report(data.truth, recs.as_dict(), model.index.catalog.size)


def _known(index: CandidateIndex, truth: dict[int, set[int]]) -> np.ndarray:
    """The users of `truth` with a history, sorted (cold users get the fallback, not the ranker)."""
    users = np.array(sorted(truth), dtype=np.int64)
    return users[index.has_history(users)]


def _sample(space: dict[str, list], rng: np.random.Generator) -> dict:
    return {name: values[int(rng.integers(len(values)))] for name, values in space.items()}
