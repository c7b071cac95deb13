"""Training of every contender on a split, its honest evaluation, and tuning.

A split (`ml.evaluation.protocols`) says what a model may see and what it is judged on. On a split:

- the candidate index learns every source from the visible events (each user measured from their
  own cutoff where the protocol has per-user cutoffs);
- the hybrid's re-ranker learns from per-user labels inside the visible events: each user's last
  visible basket is the label, the index refit on what came before (`per_user_labels`), so its
  training groups hold users of every history length, sampled by history-length bucket, and
  features never see their labels (tests/ml/test_training.py proves it);
- every contender (`ml.ranking.hybrid.CONTENDERS`: each source alone, and the hybrid) ranks the
  full catalog for the split's customers under two targets: `all` purchases count, or only `new`
  items (never bought before by that user; already-bought items are then not recommended).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ml.candidates import SOURCES, AlsParams, CandidateIndex, CandidateParams, fit_index
from ml.data import Catalog, EventLog
from ml.evaluation.metrics import ranking_report
from ml.evaluation.protocols import TARGETS, Split, per_user_labels
from ml.point_in_time import FeatureStore
from ml.ranking.features import RankerParams, fit_ranker, labels_for, pair_features, score_pairs
from ml.ranking.hybrid import (
    SOURCE_OF,
    FittedContender,
    _strongest_source,
    _top_per_user,
    recommend_source,
)
from ml.schema import GUEST_PREFIX

K = 20  # recommendations scored per user (Recall@20 needs 20)
# History-length buckets of the per-bucket report: prior interactions (events) of the user.
BUCKETS = (("1", 1, 1), ("2-4", 2, 4), ("5-15", 5, 15), ("16+", 16, np.inf))
# Settings older model cards carry that are now dbt's (vars decay_half_life_days,
# trending_half_life_days: the point-in-time features): a champion's card still loads.
RETIRED = ("half_life_days", "trending_half_life_days")


@dataclass(frozen=True)
class TrainingParams:
    als: AlsParams = field(default_factory=AlsParams)
    candidates: CandidateParams = field(default_factory=CandidateParams)
    ranker: RankerParams = field(default_factory=RankerParams)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingParams:
        candidates = {k: v for k, v in values["candidates"].items() if k not in RETIRED}
        return cls(
            AlsParams(**values["als"]),
            CandidateParams(**candidates),
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


@dataclass
class EvaluationSet:
    """Users, truth and the hybrid's candidate pairs with features, for one split and target."""

    users: np.ndarray
    truth: dict[int, set[int]]
    pairs: pd.DataFrame
    features: np.ndarray
    left_out: dict[str, int]  # why customers were not judged: no history, no label, no new item


def fit_split_index(
    log: EventLog, catalog: Catalog, split: Split, params: TrainingParams, features: FeatureStore
) -> CandidateIndex:
    """Every source, learned from what `split` lets a model see, with its point-in-time
    features."""
    return fit_index(log.where(split.visible), catalog, split.cutoff, params.als,
                     params.candidates, features.at(split, log, catalog))


def ranker_training_set(
    log: EventLog, catalog: Catalog, split: Split, params: TrainingParams, features: FeatureStore
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and group (user) per candidate pair: each user's last visible basket is
    the label, the index fit on what came before; at most `max_groups` users, drawn from each
    history-length bucket in proportion to its size."""
    labels = per_user_labels(log, split)
    index = fit_split_index(log, catalog, labels, params, features)
    users = stratified_sample(_known(index, labels.truth), history_lengths(index),
                              params.ranker.max_groups, params.ranker.seed)
    pairs = index.candidates(users)
    return pair_features(index, pairs), labels_for(pairs, labels.truth), pairs["user"].to_numpy()


def train(log: EventLog, catalog: Catalog, split: Split, params: TrainingParams,
          features: FeatureStore, contender: str = "hybrid") -> FittedContender:
    """`contender` fit on what `split` lets it see: the hybrid with its re-ranker, or one source."""
    index = fit_split_index(log, catalog, split, params, features)
    if contender != "hybrid":
        return FittedContender(index, None, contender)
    pair_rows, labels, users = ranker_training_set(log, catalog, split, params, features)
    return FittedContender(index, fit_ranker(pair_rows, labels, users, params.ranker))


def history_lengths(index: CandidateIndex) -> np.ndarray:
    """Per user, the interactions (events) the index saw."""
    return index.user_stats["u_events"].to_numpy()


def bucket_of(lengths: np.ndarray) -> np.ndarray:
    """The BUCKETS name of each history length ("" for none)."""
    names = np.full(len(lengths), "", dtype=object)
    for name, low, high in BUCKETS:
        names[(lengths >= low) & (lengths <= high)] = name
    return names


def stratified_sample(users: np.ndarray, lengths: np.ndarray, size: int, seed: int) -> np.ndarray:
    """At most `size` of `users`, each history-length bucket in proportion to its share (sorted)."""
    if len(users) <= size:
        return users
    rng = np.random.default_rng(seed)
    buckets = bucket_of(lengths[users])
    chosen = []
    for name, _, _ in BUCKETS:
        members = users[buckets == name]
        take = size * len(members) // len(users)  # floor: never more than `size` in all
        chosen.append(rng.choice(members, min(take, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def evaluation_set(index: CandidateIndex, split: Split, target: str, with_pairs: bool = True
                   ) -> EvaluationSet:
    """The customers `split` judges under `target`, with the hybrid's candidates and their
    features when `with_pairs`."""
    exclude = target == "new"
    truth = split.truth
    no_new = 0
    if exclude:
        bought = index.purchase_counts
        truth = {u: items - set(bought.indices[bought.indptr[u]:bought.indptr[u + 1]].tolist())
                 for u, items in truth.items()}
        no_new = sum(1 for items in truth.values() if not items)
        truth = {u: items for u, items in truth.items() if items}
    users = _known(index, truth)
    customers = ~np.char.startswith(index.user_ids.astype(str), GUEST_PREFIX)
    with_history = int((index.has_history(np.arange(len(index.user_ids))) & customers).sum())
    pairs = (index.candidates(users, exclude_purchased=exclude) if len(users) and with_pairs
             else None)
    return EvaluationSet(
        users,
        {u: truth[u] for u in users.tolist()},
        pairs,
        pair_features(index, pairs) if pairs is not None else None,
        left_out={"no history": len(truth) - len(users),
                  "no label": with_history - len(users) - no_new,
                  **({"no new item": no_new} if exclude else {})},
    )


def evaluate(model: FittedContender, split: Split, contenders: tuple[str, ...] | None = None
             ) -> dict:
    """Per target: the metric row of every contender (`contenders`, default all that this model
    can give: each source alone, plus the hybrid when the model has a re-ranker), the customers
    judged and left out (and why), candidate recall per source, and NDCG@10 per history-length
    bucket."""
    index = model.index
    if contenders is None:
        contenders = (("hybrid",) if model.booster is not None else ()) + tuple(SOURCE_OF)
    report = {}
    for target in TARGETS:
        data = evaluation_set(index, split, target, with_pairs="hybrid" in contenders)
        exclude = target == "new"
        entry = {"users": {"judged": len(data.users), **data.left_out}}
        if not len(data.users):
            report[target] = {**entry, "models": {}, "candidate_recall": {}, "buckets": {}}
            continue
        recommendations = {
            name: (_hybrid_recommendations(model, data, exclude) if name == "hybrid" else
                   single_source_recommendations(index, data, name, exclude))
            for name in contenders
        }
        report[target] = {
            **entry,
            "models": {name: ranking_report(data.truth, recs, index.catalog.size)
                       for name, recs in recommendations.items()},
            "candidate_recall": candidate_recall(data) if "hybrid" in contenders else {},
            "buckets": bucket_report(data, history_lengths(index), recommendations),
        }
    return report


def bucket_report(data: EvaluationSet, lengths: np.ndarray, recommendations: dict) -> dict:
    """Per history-length bucket with judged users: their count and each contender's NDCG@10."""
    buckets = bucket_of(lengths[data.users])
    report = {}
    for name, _, _ in BUCKETS:
        members = data.users[buckets == name].tolist()
        if not members:
            continue
        truth = {u: data.truth[u] for u in members}
        report[name] = {"users": len(members), **{
            contender: ranking_report(truth, recs, 1)["ndcg@10"]
            for contender, recs in recommendations.items()}}
    return report


def candidate_recall(data: EvaluationSet) -> dict[str, float]:
    """Share of the relevant items each source (and the union) put among the candidates."""
    relevant = data.pairs[labels_for(data.pairs, data.truth) > 0]
    total = sum(len(items) for items in data.truth.values())
    recall = {s: float(relevant[f"{s}_rank"].notna().sum() / total) for s in SOURCES}
    recall["union"] = float(len(relevant) / total)
    return recall


def _hybrid_recommendations(model: FittedContender, data: EvaluationSet, exclude: bool
                            ) -> dict[int, list[int]]:
    """The hybrid's top K per judged user, from the evaluation set's candidates and features."""
    scores = score_pairs(model.booster, data.features)
    return _top_per_user(
        model.index,
        data.users,
        data.pairs["user"].to_numpy(),
        data.pairs["item"].to_numpy(),
        scores,
        _strongest_source(data.pairs),
        K,
        exclude,
    ).as_dict()


def single_source_recommendations(index: CandidateIndex, data: EvaluationSet, contender: str,
                                  exclude: bool) -> dict[int, list[int]]:
    """`recommend_source`'s top K per judged user, read from the evaluation set's candidates
    where it has them: they hold each source's top `per_source` (>= K) items, ranked and
    excluded the same way, so no source is scored twice."""
    if data.pairs is None or index.params.per_source < K:
        return recommend_source(index, contender, data.users, K, exclude).as_dict()
    ranks = data.pairs[f"{SOURCE_OF[contender]}_rank"].to_numpy(dtype=np.float64)
    proposed = ranks <= K  # NaN (not proposed) is not
    return _top_per_user(
        index,
        data.users,
        data.pairs["user"].to_numpy()[proposed],
        data.pairs["item"].to_numpy()[proposed],
        -ranks[proposed],  # best rank first; the padding only needs them ordered
        np.full(int(proposed.sum()), SOURCE_OF[contender], dtype=object),
        K,
        exclude,
    ).as_dict()


def _known(index: CandidateIndex, truth: dict[int, set[int]]) -> np.ndarray:
    """The users of `truth` with a history, sorted (cold users get the fallback, not the ranker)."""
    users = np.array(sorted(truth), dtype=np.int64)
    return users[index.has_history(users)]


