"""Training is leak-free and the hybrid earns its place beside the baselines."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ml.candidates import AlsParams, CandidateParams, fit_index
from ml.data import EVENT_CODES, EventLog
from ml.ranking.features import RankerParams, pair_features
from ml.ranking.hybrid import recommend_baseline
from ml.ranking.training import (
    TrainingParams,
    TuningBudget,
    evaluate,
    ranker_training_set,
    train_hybrid,
    tune,
)

FAST = TrainingParams(
    AlsParams(factors=16, iterations=8),
    CandidateParams(per_source=20),
    RankerParams(rounds=40, max_depth=4),
)


def with_future_noise(log: EventLog, after: float) -> EventLog:
    """The same log plus, after `after`, every user buying item 0 many times."""
    users = np.arange(log.n_users, dtype=np.int32)
    n = len(users)
    return replace(
        log,
        user=np.concatenate([log.user, users]),
        item=np.concatenate([log.item, np.zeros(n, np.int32)]),
        event=np.concatenate([log.event, np.full(n, EVENT_CODES["purchase"], np.int8)]),
        weight=np.concatenate([log.weight, np.full(n, 50.0, np.float32)]),
        time=np.concatenate([log.time, np.full(n, after + 3600.0)]),
        quantity=np.concatenate([log.quantity, np.ones(n, np.float32)]),
        price=np.concatenate([log.price, np.ones(n, np.float32)]),
        basket=np.concatenate([log.basket, np.arange(n) + log.basket.max() + 1]),
    )


def test_the_index_never_sees_events_at_or_after_its_cutoff(log, catalog, windows):
    cutoff = windows.test_start
    clean = fit_index(log, catalog, cutoff, FAST.als, FAST.candidates)
    noisy = fit_index(with_future_noise(log, cutoff), catalog, cutoff, FAST.als, FAST.candidates)
    users = np.flatnonzero(np.diff(clean.history.indptr) > 0)[:50]
    pairs = clean.candidates(users)
    pd.testing.assert_frame_equal(pairs, noisy.candidates(users))
    np.testing.assert_array_equal(pair_features(clean, pairs), pair_features(noisy, pairs))
    np.testing.assert_array_equal(clean.user_factors, noisy.user_factors)


def test_ranker_features_stop_before_the_label_window(log, catalog, windows):
    """Purchases inside the label window change the labels, never the features."""
    cutoff, label_days = windows.test_start, 14
    label_start = cutoff - label_days * 86_400
    features, labels, users = ranker_training_set(log, catalog, cutoff, label_days, FAST)
    noisy = with_future_noise(log, label_start)  # extra purchases of item 0 in the label window
    features_noisy, labels_noisy, users_noisy = ranker_training_set(
        noisy, catalog, cutoff, label_days, FAST
    )
    known = np.isin(users_noisy, users)  # the noise adds label users; compare the shared ones
    np.testing.assert_array_equal(features, features_noisy[known])
    assert labels_noisy.sum() > labels.sum()


def test_hybrid_beats_popularity_and_evaluation_covers_both_protocols(log, catalog, windows):
    model = train_hybrid(log, catalog, windows.test_start, 14, FAST)
    report = evaluate(model, log, windows.as_of)
    assert set(report) == {"all", "new"}
    for protocol in report.values():
        assert set(protocol["models"]) == {"popularity", "repeat", "als", "hybrid"}
        assert 0 < protocol["candidate_recall"]["union"] <= 1
        assert protocol["candidate_recall"]["union"] >= max(
            v for k, v in protocol["candidate_recall"].items() if k != "union"
        )
    models = report["all"]["models"]
    assert models["hybrid"]["ndcg@10"] > models["popularity"]["ndcg@10"]
    assert report["new"]["candidate_recall"]["repeat"] == 0.0  # new items cannot be repeats


def test_recommendations_respect_k_and_stay_in_the_catalog(log, catalog, windows):
    model = train_hybrid(log, catalog, windows.test_start, 14, FAST)
    users = np.arange(min(log.n_users, 60))
    for k in (1, 7, 25):
        recs = model.recommend(users, k)
        assert all(len(items) == k for items in recs.items)
        assert all(len(set(items.tolist())) == k for items in recs.items)
        assert all(((items >= 0) & (items < catalog.size)).all() for items in recs.items)
    fresh = model.recommend(users, 10, exclude_purchased=True)
    for user, items in zip(fresh.users, fresh.items, strict=True):
        assert model.index.purchase_counts[user, items].sum() == 0


def test_baselines_rank_what_they_claim(log, catalog, windows):
    index = fit_index(log, catalog, windows.test_start, FAST.als, FAST.candidates)
    buyer = int(np.flatnonzero(np.diff(index.purchase_counts.indptr) > 0)[0])
    repeat = recommend_baseline(index, "repeat", np.array([buyer]), 5)
    assert repeat.reasons[0][0] == "repeat"
    assert index.purchase_counts[buyer, repeat.items[0][0]] > 0
    popular = recommend_baseline(index, "popularity", np.array([buyer, buyer + 1]), 5)
    assert popular.items[0].tolist() == popular.items[1].tolist()
    assert popular.items[0][0] == int(np.argmax(index.trending))
    with pytest.raises(ValueError, match="name"):
        recommend_baseline(index, "oracle", np.array([buyer]), 5)


@pytest.fixture(scope="module")
def tuned(log, catalog, windows) -> tuple[TrainingParams, list[dict], list[str]]:
    """One tuning run (3 ALS and 2 ranker trials) and the progress lines it reported."""
    lines: list[str] = []
    best, trials = tune(
        log,
        catalog,
        windows,
        FAST,
        TuningBudget(als_trials=3, ranker_trials=2),
        progress=lines.append,
    )
    return best, trials, lines


def test_tuning_keeps_every_trial_and_never_returns_worse_than_its_start(tuned):
    best, trials, _ = tuned
    stages = [t["stage"] for t in trials]
    assert stages[:5] == ["als", "als", "als", "ranker", "ranker"]
    assert trials[0]["params"] == FAST.to_dict()["als"]
    als_best = max(trials[:3], key=lambda t: t["ndcg@10"])
    if als_best is trials[0]:
        assert stages[5:] == []
    else:  # the starting settings as a whole are a contender too
        assert stages[5:] == ["as started"] and trials[5]["params"] == FAST.to_dict()
    winner = max(trials[3:], key=lambda t: t["ndcg@10"])
    if winner["stage"] == "as started":
        assert best == FAST
    else:
        assert best == replace(FAST, als=AlsParams(**als_best["params"]),
                               ranker=RankerParams(**winner["params"]))
    assert TrainingParams.from_dict(best.to_dict()) == best


def test_tuning_reports_each_trial_with_its_score_the_best_so_far_and_its_settings(tuned):
    _, trials, lines = tuned
    assert len(lines) == len(trials)  # one line per trial, as each ends
    of = {"als": 3, "ranker": 2, "as started": 1}
    done: Counter[str] = Counter()
    best: dict[str, float] = {}
    for line, trial in zip(lines, trials, strict=True):
        stage = trial["stage"]
        done[stage] += 1
        group = "als" if stage == "als" else "hybrid"  # the ranker trials and "as started" compete
        best[group] = max(best.get(group, -1.0), trial["ndcg@10"])
        assert line.startswith(f"tuning {stage} {done[stage]}/{of[stage]}: ")
        assert f"ndcg@10 {trial['ndcg@10']:.4f} (best {best[group]:.4f})" in line
        assert f" in {trial['seconds']:.1f} s; " in line
    # the settings tried: the first trial of each stage is the starting settings (FAST)
    assert "factors=16 " in lines[0] and "iterations=8 " in lines[0]
    assert "rounds=40 " in lines[3] and "max_depth=4 " in lines[3]


def test_training_params_with_changes_are_validated():
    changed = FAST.with_changes({"ranker": {"rounds": 7, "learning_rate": 1}, "als": {}})
    assert changed.ranker.rounds == 7 and changed.ranker.learning_rate == 1.0
    assert changed.als == FAST.als and changed.candidates == FAST.candidates
    with pytest.raises(ValueError, match=r"^rankr: unknown stage"):
        FAST.with_changes({"rankr": {"rounds": 7}})
    with pytest.raises(ValueError, match=r"^ranker\.round: unknown setting"):
        FAST.with_changes({"ranker": {"round": 7}})
    with pytest.raises(ValueError, match=r"^ranker\.rounds: expected int, got '7'"):
        FAST.with_changes({"ranker": {"rounds": "7"}})
