"""Tuning: Optuna studies (TPE sampler, median pruning) over each contender's settings, judged by
time-based cross-validation.

Folds are the headline protocol's validation split (fold 0) and the same split one step earlier
(fold 1: the calendar window one length back, or the basket before), each kept where it judges at
least `MIN_JUDGED` customers. A trial's score is its NDCG@10 averaged over the targets (all, new:
as model selection weighs them) and the folds; after fold 0 it reports that fold's score and the
median pruner may stop it there.

One study per tuned part, in order, each starting from the settings it is given (the first trial
is always them, so tuning never returns worse than where it started, on these folds):

- `als`: factors 16..512, regularization, alpha, iterations (ALS alone);
- `itemknn`: neighbours kept per item (K; serving walks them per history item, so K <= 200),
  BM25's K1 and B (item-kNN alone);
- `ease`: the ridge penalty (EASE alone; no study where the catalog is too big for EASE);
- `sequence`: steps that count as "next" (the sequence source alone);
- `ranker`: depth, rounds, learning rate, min child weight, objective (the hybrid, on candidates
  of the tuned sources). Serving walks every tree for every candidate: rounds x depth stays
  <= `MAX_TREE_WORK`, which bounds the ranker's cost per candidate at the defaults' 60 x 6 scale.

The budget is trials per study and seconds for all of them, the folds' preparation included:
each study gets an equal share of what is left, its own preparation included, and its first
trial runs whatever is left. Every trial is kept, pruned ones included; one whose settings an
earlier trial of its study already scored (TPE repeats points of small spaces) costs nothing.
The ranker's trials learn from at most `ranker_groups` users per fold (drawn by history-length
bucket, as training draws them), and the settings found train on `max_groups` users after.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
import optuna

from ml.candidates import CandidateIndex, CandidateParams, fit_als
from ml.data import Catalog, EventLog, Windows
from ml.evaluation.metrics import ranking_report
from ml.evaluation.protocols import VALIDATION_FOLDS, Split, protocol_split
from ml.neighbors import ease_neighbors, itemknn_neighbors, recent_profile, sequence_neighbors
from ml.point_in_time import FeatureStore
from ml.ranking.features import fit_ranker
from ml.ranking.hybrid import FittedContender, recommend_source
from ml.ranking.training import (
    TARGETS,
    EvaluationSet,
    K,
    TrainingParams,
    _hybrid_recommendations,
    evaluation_set,
    fit_split_index,
    ranker_training_set,
)

MIN_JUDGED = 20  # customers a fold needs to count
MAX_TREE_WORK = 480  # rounds x max_depth of the re-ranker
STAGES = ("als", "itemknn", "ease", "sequence", "ranker")

optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial is reported through `progress`
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningBudget:
    """Trials per study (each source's, and the ranker's), and seconds for all studies. With
    the defaults a whole `tailor run` on UCI Online Retail (530k events) takes about 4.5 minutes
    on 2 cores, tuning 1 of them; the seconds end the studies there before their trials do
    (docs/benchmarks/quality.md)."""

    source_trials: int = 6
    ranker_trials: int = 6
    seconds: float = 30.0
    seed: int = 7
    ranker_groups: int = 2000  # users each ranker trial learns from, per fold


@dataclass
class Fold:
    split: Split
    # Fit with the settings tuning started from; after each source study, its best trial's
    # (the next studies and the ranker's build on it: no refit).
    index: CandidateIndex
    judged: dict[str, EvaluationSet]  # per target: the customers judged (no candidate pairs)


def tune(
    log: EventLog,
    catalog: Catalog,
    windows: Windows,
    protocol: str,
    base: TrainingParams,
    budget: TuningBudget,
    features: FeatureStore,
    progress=print,
) -> tuple[TrainingParams, list[dict]]:
    """The best settings per study and every trial; `progress` gets a line after each trial."""
    deadline = time.monotonic() + budget.seconds
    folds = tuning_folds(log, catalog, windows, protocol, base, features)
    trials: list[dict] = []
    best = base
    if not folds:
        progress(f"tuning: no {protocol} validation fold judges {MIN_JUDGED} customers; the "
                 "starting settings, untuned")
        return best, trials
    studies = [s for s in STAGES
               if not (s == "ease" and catalog.size > base.candidates.ease_max_items)]
    for n, stage in enumerate(studies):
        started = time.monotonic()  # a study's share of the seconds includes its preparation
        seconds = max(deadline - started, 0.0) / (len(studies) - n)
        fitted: dict[int, list[CandidateIndex]] = {}  # trial number -> its index per fold
        try:
            objective = (_ranker_objective(log, catalog, folds, best, features,
                                           budget.ranker_groups)
                         if stage == "ranker"
                         else _source_objective(stage, log, catalog, folds, best, fitted))
        except ValueError as error:  # e.g. no basket to label a re-ranker with on these folds
            progress(f"tuning {stage}: skipped ({error})")
            continue
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=budget.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        )
        study.enqueue_trial(_start(stage, best))
        of = budget.ranker_trials if stage == "ranker" else budget.source_trials
        run = _reported(objective, stage, trials, of, progress)
        study.optimize(run, n_trials=1)  # the starting settings, whatever the seconds left
        study.optimize(run, n_trials=max(of - 1, 0),
                       timeout=max(seconds - (time.monotonic() - started), 0.0))
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if completed:
            best = _apply(stage, best, study.best_trial.user_attrs["settings"])
            if stage != "ranker":  # the next studies start from the best index, refit no more
                for fold, index in zip(folds, fitted[study.best_trial.number], strict=True):
                    fold.index = index
    return best, trials


def tuning_folds(log: EventLog, catalog: Catalog, windows: Windows, protocol: str,
                 params: TrainingParams, features: FeatureStore) -> list[Fold]:
    """The folds that judge at least MIN_JUDGED customers (fold 1 only when fold 0 does)."""
    folds = []
    for number in range(VALIDATION_FOLDS):
        split = protocol_split(log, windows, protocol, "validation", fold=number)
        index = fit_split_index(log, catalog, split, params, features)
        judged = {target: evaluation_set(index, split, target, with_pairs=False)
                  for target in TARGETS}
        if min(len(data.users) for data in judged.values()) < MIN_JUDGED:
            break
        folds.append(Fold(split, index, judged))
    return folds


def _source_objective(stage: str, log: EventLog, catalog: Catalog, folds: list[Fold],
                      params: TrainingParams, fitted: dict[int, list[CandidateIndex]]):
    """A trial of one source's settings: that source alone over the folds (the stage is the
    source's name). Each complete trial's refit index per fold goes into `fitted`."""

    def objective(trial: optuna.Trial) -> float:
        settings = _suggest(stage, trial)
        earlier = _repeat_of(trial, settings)
        if earlier is not None:
            fitted[trial.number] = fitted[earlier.number]
            return earlier.value
        scores, indexes = [], []
        for step, fold in enumerate(folds):
            indexes.append(_refit_source(stage, settings, fold, log, catalog, params))
            scores.append(float(np.mean([
                ranking_report(data.truth, recommend_source(indexes[-1], stage, data.users, K,
                                                            target == "new").as_dict(),
                               catalog.size)["ndcg@10"]
                for target, data in fold.judged.items()])))
            _report(trial, scores, step, settings)
        fitted[trial.number] = indexes
        return float(np.mean(scores))
    return objective


def _repeat_of(trial: optuna.Trial, settings: dict) -> optuna.trial.FrozenTrial | None:
    """An earlier complete trial of the study with exactly these settings (TPE may suggest a
    point again in small spaces), its folds' scores copied onto `trial`; None if there is none."""
    for earlier in trial.study.get_trials(deepcopy=False,
                                          states=(optuna.trial.TrialState.COMPLETE,)):
        if earlier.user_attrs.get("settings") == settings:
            trial.set_user_attr("settings", settings)
            trial.set_user_attr("folds", earlier.user_attrs["folds"])
            return earlier
    return None


def _ranker_objective(log: EventLog, catalog: Catalog, folds: list[Fold],
                      params: TrainingParams, features: FeatureStore, groups: int):
    """A trial of the ranker's settings: the hybrid over the folds, on candidates and labels of
    the tuned sources (each fold's index, as the source studies left it; the labels computed
    once per fold, for at most `groups` users)."""
    prepared = []
    sampled = replace(params, ranker=replace(params.ranker,
                                             max_groups=min(groups, params.ranker.max_groups)))
    for fold in folds:
        index = fold.index
        training_set = ranker_training_set(log, catalog, fold.split, sampled, features)
        if not (training_set[1] > 0).any():
            raise ValueError(f"labels: no candidate was bought in fold {len(prepared)}'s labels")
        judged = {target: evaluation_set(index, fold.split, target) for target in TARGETS}
        prepared.append((index, training_set, judged))

    def objective(trial: optuna.Trial) -> float:
        settings = _suggest("ranker", trial)
        earlier = _repeat_of(trial, settings)
        if earlier is not None:
            return earlier.value
        ranker = replace(params.ranker, **settings)
        scores = []
        for step, (index, (rows, labels, users), judged) in enumerate(prepared):
            model = FittedContender(index, fit_ranker(rows, labels, users, ranker))
            scores.append(float(np.mean([
                ranking_report(data.truth, _hybrid_recommendations(model, data, target == "new"),
                               catalog.size)["ndcg@10"]
                for target, data in judged.items()])))
            _report(trial, scores, step, settings)
        return float(np.mean(scores))
    return objective


def _suggest(stage: str, trial: optuna.Trial) -> dict:
    """The search space of one study."""
    if stage == "als":
        return {"factors": trial.suggest_int("factors", 16, 512, log=True),
                "regularization": trial.suggest_float("regularization", 1e-3, 1.0, log=True),
                "alpha": trial.suggest_float("alpha", 1.0, 100.0, log=True),
                "iterations": trial.suggest_int("iterations", 5, 30)}
    if stage == "itemknn":
        return {"itemknn_k": trial.suggest_int("itemknn_k", 10, 200, log=True),
                "itemknn_k1": trial.suggest_float("itemknn_k1", 0.3, 3.0),
                "itemknn_b": trial.suggest_float("itemknn_b", 0.0, 1.0)}
    if stage == "ease":
        return {"ease_l2": trial.suggest_float("ease_l2", 10.0, 5000.0, log=True)}
    if stage == "sequence":
        return {"sequence_window": trial.suggest_int("sequence_window", 1, 6)}
    depth = trial.suggest_int("max_depth", 3, 8)
    rounds = trial.suggest_int("rounds", 20, 160)
    return {"max_depth": depth,
            "rounds": min(rounds, MAX_TREE_WORK // depth),  # the serving bound
            "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 100.0, log=True),
            "objective": trial.suggest_categorical(
                "objective", ["rank:ndcg", "rank:pairwise", "rank:map"])}


def _start(stage: str, params: TrainingParams) -> dict:
    """The settings tuning starts from, as the first trial of a study."""
    if stage == "als":
        return {k: getattr(params.als, k) for k in ("factors", "regularization", "alpha",
                                                    "iterations")}
    if stage == "ranker":
        return {k: getattr(params.ranker, k) for k in ("max_depth", "rounds", "learning_rate",
                                                       "min_child_weight", "objective")}
    names = {"itemknn": ("itemknn_k", "itemknn_k1", "itemknn_b"), "ease": ("ease_l2",),
             "sequence": ("sequence_window",)}[stage]
    return {k: getattr(params.candidates, k) for k in names}


def _apply(stage: str, params: TrainingParams, settings: dict) -> TrainingParams:
    if stage == "als":
        return replace(params, als=replace(params.als, **settings))
    if stage == "ranker":
        return replace(params, ranker=replace(params.ranker, **settings))
    return replace(params, candidates=replace(params.candidates, **settings))


def _refit_source(stage: str, settings: dict, fold: Fold, log: EventLog, catalog: Catalog,
                  params: TrainingParams) -> CandidateIndex:
    """The fold's index with one source refit under `settings` (the rest as fit)."""
    index = fold.index
    if stage == "als":
        user_factors, item_factors = fit_als(index.history, replace(params.als, **settings))
        return replace(index, user_factors=user_factors, item_factors=item_factors)
    candidates: CandidateParams = replace(index.params, **settings)
    if stage == "itemknn":
        return replace(index, params=candidates, itemknn_neighbors=itemknn_neighbors(
            index.history, candidates.itemknn_k, candidates.itemknn_k1, candidates.itemknn_b))
    if stage == "ease":
        weights, _ = ease_neighbors(index.history, candidates.neighbors, candidates.ease_l2,
                                    candidates.ease_max_items)
        return replace(index, params=candidates, ease_neighbors=weights)
    seen = log.where(fold.split.visible)
    window = candidates.sequence_window
    return replace(index, params=candidates,
                   sequence_neighbors=sequence_neighbors(seen, catalog.size,
                                                         candidates.neighbors, window),
                   recent=recent_profile(seen, catalog.size, window))


def _report(trial: optuna.Trial, scores: list[float], step: int, settings: dict) -> None:
    """Fold `step`'s score as the trial's intermediate value; prune after fold 0 when the
    median pruner says so (the settings stay on the trial, for the report)."""
    trial.set_user_attr("settings", settings)
    trial.set_user_attr("folds", list(scores))
    trial.report(float(np.mean(scores)), step)
    if trial.should_prune():
        raise optuna.TrialPruned()


def _reported(objective, stage: str, trials: list[dict], of: int, progress):
    """`objective` as Optuna calls it, each trial kept in `trials` and reported by `progress`."""
    best = [-1.0]

    def keep(trial: optuna.Trial, state: str, score: float, started: float) -> None:
        record = {"stage": stage, "number": trial.number, "state": state,
                  "params": trial.user_attrs.get("settings", {}),
                  "folds": trial.user_attrs.get("folds", []), "ndcg@10": score,
                  "seconds": round(time.monotonic() - started, 2)}
        if state == "complete":
            best[0] = max(best[0], score)
        trials.append(record)
        progress(_progress_line(record, trial.number + 1, of, best[0]))

    def run(trial: optuna.Trial) -> float:
        started = time.monotonic()
        try:
            score = objective(trial)
        except optuna.TrialPruned:
            keep(trial, "pruned", float(np.mean(trial.user_attrs["folds"])), started)
            raise
        keep(trial, "complete", score, started)
        return score
    return run


def _progress_line(trial: dict, n: int, of: int, best: float) -> str:
    """What `tune` reports after each trial: stage, n/N, NDCG@10 (mean over folds), the best
    so far of the study, pruned or not, seconds, and the settings tried."""
    settings = " ".join(f"{name}={_short(value)}" for name, value in trial["params"].items())
    # a pruned trial's score is of the folds it ran (fold 0), not comparable with the best's
    pruned = (f", pruned after {len(trial['folds'])} fold" if trial["state"] == "pruned"
              else "")
    return (f"tuning {trial['stage']} {n}/{of}: ndcg@10 {trial['ndcg@10']:.4f} "
            f"(best {best:.4f}{pruned}) in {trial['seconds']:.1f} s; {settings}")


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value
