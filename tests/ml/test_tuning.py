"""Optuna tuning: every trial kept, each study starting from the given settings, pruning after
the first fold, the serving bound on the ranker, and the budget in seconds."""

from collections import Counter
from dataclasses import replace

import pytest

from ml.candidates import AlsParams, CandidateParams
from ml.ranking.features import RankerParams
from ml.ranking.training import TrainingParams
from ml.ranking.tuning import MAX_TREE_WORK, STAGES, TuningBudget, _start, tune, tuning_folds
from tests.builders import pipeline_features

FAST = TrainingParams(AlsParams(factors=16, iterations=8), CandidateParams(per_source=20),
                      RankerParams(rounds=20, max_depth=4))


@pytest.fixture(scope="module")
def tuned(log, catalog, windows, features):
    lines: list[str] = []
    best, trials = tune(log, catalog, windows, "calendar", FAST,
                        TuningBudget(source_trials=4, ranker_trials=3, seconds=600), features,
                        progress=lines.append)
    return best, trials, lines


def test_every_study_keeps_every_trial_and_starts_from_the_given_settings(tuned):
    best, trials, lines = tuned
    assert Counter(t["stage"] for t in trials) == {**{s: 4 for s in STAGES}, "ranker": 3}
    for stage in STAGES:
        first = next(t for t in trials if t["stage"] == stage)
        assert first["params"] == _start(stage, FAST) and first["state"] == "complete"
    assert {t["state"] for t in trials} <= {"complete", "pruned"}
    assert all(len(t["folds"]) in (1, 2) for t in trials)
    assert len(lines) == len(trials)
    assert lines[0].startswith("tuning als 1/4: ndcg@10 ") and "factors=16 " in lines[0]
    assert TrainingParams.from_dict(best.to_dict()) == best


def test_the_result_is_the_best_complete_trial_of_each_study(tuned):
    best, trials, _ = tuned
    for stage in STAGES:
        done = [t for t in trials if t["stage"] == stage and t["state"] == "complete"]
        winner = max(done, key=lambda t: t["ndcg@10"])
        assert _start(stage, best) == winner["params"]
        assert winner["ndcg@10"] >= done[0]["ndcg@10"]  # never worse than where it started


def test_ranker_trials_stay_within_the_serving_bound(tuned):
    _, trials, _ = tuned
    for trial in trials:
        if trial["stage"] == "ranker":
            assert trial["params"]["rounds"] * trial["params"]["max_depth"] <= MAX_TREE_WORK


def test_two_time_folds_where_the_data_allows(log, catalog, windows, features):
    folds = tuning_folds(log, catalog, windows, "last_basket", FAST, features)
    assert len(folds) == 2
    first, second = (set(f.judged["all"].truth) for f in folds)
    assert first & second  # the same customers, one basket further back
    assert folds[1].split.visible.sum() < folds[0].split.visible.sum()


def test_a_budget_of_no_seconds_runs_each_study_s_starting_settings_only(log, catalog, windows,
                                                                         features):
    best, trials = tune(log, catalog, windows, "calendar", FAST,
                        TuningBudget(source_trials=5, ranker_trials=5, seconds=0), features,
                        progress=lambda line: None)
    assert [t["stage"] for t in trials] == list(STAGES)
    assert best == FAST


def test_no_fold_to_judge_on_leaves_the_starting_settings_untuned(log, catalog, windows):
    lines: list[str] = []
    # calendar validation windows before any event: nobody to judge
    early = replace(windows, validation_start=float(log.time.min()) - 86_400,
                    test_start=float(log.time.min()))
    best, trials = tune(log, catalog, early, "calendar", FAST, TuningBudget(),
                        pipeline_features(log, catalog, early), lines.append)
    assert best == FAST and trials == []
    assert lines == ["tuning: no calendar validation fold judges 20 customers; the starting "
                     "settings, untuned"]
