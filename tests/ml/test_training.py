"""Training is leak-free, the re-ranker learns from the population it serves, and the hybrid earns
its place beside the single-source contenders."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ml.candidates import AlsParams, CandidateParams
from ml.data import EVENT_CODES, EventLog
from ml.evaluation.protocols import calendar_split, last_basket_split, per_user_labels
from ml.evaluation.reports import assemble, contender_view
from ml.ranking.features import RankerParams, pair_features, sampled_negatives
from ml.ranking.hybrid import CONTENDERS, SOURCE_OF, recommend_source
from ml.ranking.training import (
    BUCKETS,
    TrainingParams,
    bucket_of,
    evaluate,
    evaluation_set,
    fit_split_index,
    history_lengths,
    ranker_training_set,
    single_source_recommendations,
    stratified_sample,
    train,
)
from tests.builders import index_at, split_features

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
    clean = index_at(log, catalog, cutoff, FAST.als, FAST.candidates)
    noisy = index_at(with_future_noise(log, cutoff), catalog, cutoff, FAST.als, FAST.candidates)
    users = np.flatnonzero(np.diff(clean.history.indptr) > 0)[:50]
    pairs = clean.candidates(users)
    pd.testing.assert_frame_equal(pairs, noisy.candidates(users))
    np.testing.assert_array_equal(pair_features(clean, pairs), pair_features(noisy, pairs))
    np.testing.assert_array_equal(clean.user_factors, noisy.user_factors)


def test_ranker_features_never_see_the_split_s_hidden_events(log, catalog, windows, features):
    """Purchases after the split's cutoff change nothing the re-ranker learns from (the
    point-in-time features dbt builds for each user's cutoff included)."""
    split = calendar_split(log, windows, "test")
    rows, labels, users = ranker_training_set(log, catalog, split, FAST, features)
    noisy_log = with_future_noise(log, windows.test_start)
    noisy = calendar_split(noisy_log, windows, "test")
    rows_noisy, labels_noisy, users_noisy = ranker_training_set(
        noisy_log, catalog, noisy, FAST, split_features(noisy_log, catalog, noisy))
    np.testing.assert_array_equal(users, users_noisy)
    np.testing.assert_array_equal(rows, rows_noisy)
    np.testing.assert_array_equal(labels, labels_noisy)


def test_per_user_labels_are_point_in_time(log, windows):
    """Each user's features stop before their own cutoff; their label starts at it."""
    split = last_basket_split(log, windows, "validation")
    labels = per_user_labels(log, split)
    seen = labels.visible
    assert (log.time[seen] < labels.user_cutoffs[log.user[seen]]).all()
    assert not (seen & ~split.visible).any()  # nothing the split hid comes back
    bought = split.visible & ~seen & (log.event == EVENT_CODES["purchase"])
    for user, items in list(labels.truth.items())[:80]:
        mine = bought & (log.user == user)
        assert items <= set(log.item[mine].tolist())
        assert (log.time[mine & np.isin(log.item, list(items))] >=
                labels.user_cutoffs[user]).all()


def test_ranker_groups_hold_users_of_every_history_length(log, catalog, windows, features):
    split = calendar_split(log, windows, "test")
    _, labels, users = ranker_training_set(log, catalog, split, FAST, features)
    index = fit_split_index(log, catalog, per_user_labels(log, split), FAST, features)
    groups = np.unique(users)
    lengths = history_lengths(index)[groups]
    assert (lengths <= 4).any() and (lengths >= 16).any(), np.bincount(lengths)[:20]
    # the users with a label in the calendar window alone would be far fewer
    assert len(groups) > 2 * len(split.truth)


def test_stratified_sample_keeps_each_bucket_s_share():
    lengths = np.array([1] * 100 + [3] * 300 + [10] * 600 + [40] * 1000)
    users = np.arange(len(lengths))
    sample = stratified_sample(users, lengths, 200, seed=1)
    counts = {name: int((bucket_of(lengths[sample]) == name).sum()) for name, _, _ in BUCKETS}
    assert counts == {"1": 10, "2-4": 30, "5-15": 60, "16+": 100}
    assert len(np.unique(sample)) == len(sample)
    np.testing.assert_array_equal(stratified_sample(users[:50], lengths, 200, 1), users[:50])


def test_sampled_negatives_keep_every_positive_and_at_most_n_negatives_per_user():
    # user 0: 2 positives, 8 negatives; user 1: 1 positive, 2 negatives; user 2: 5 negatives
    users = np.repeat([0, 1, 2], [10, 3, 5])
    labels = np.zeros(18, np.float32)
    labels[[1, 4, 10]] = 1.0
    keep = sampled_negatives(users, labels, 3, np.random.default_rng(0))
    assert keep[labels > 0].all()
    negatives_kept = {u: int((keep & (labels == 0) & (users == u)).sum()) for u in (0, 1, 2)}
    assert negatives_kept == {0: 3, 1: 2, 2: 3}
    # drawn at random, not the first ones of each user
    draws = {tuple(np.flatnonzero(sampled_negatives(users, labels, 3,
                                                    np.random.default_rng(seed))))
             for seed in range(5)}
    assert len(draws) > 1


def test_hybrid_beats_popularity_and_evaluation_covers_every_contender(log, catalog, windows,
                                                                       features):
    split = calendar_split(log, windows, "test")
    model = train(log, catalog, split, FAST, features)
    report = evaluate(model, split)
    assert set(report) == {"all", "new"}
    for target in report.values():
        assert set(target["models"]) == {"hybrid", *SOURCE_OF}
        assert 0 < target["candidate_recall"]["union"] <= 1
        assert target["candidate_recall"]["union"] >= max(
            v for k, v in target["candidate_recall"].items() if k != "union"
        )
        assert target["users"]["judged"] == target["models"]["hybrid"]["users"]
        assert sum(b["users"] for b in target["buckets"].values()) == target["users"]["judged"]
    models = report["all"]["models"]
    assert models["hybrid"]["ndcg@10"] > models["popularity"]["ndcg@10"]
    assert report["new"]["candidate_recall"]["repeat"] == 0.0  # new items cannot be repeats


def test_recommendations_respect_k_and_stay_in_the_catalog(log, catalog, windows, features):
    model = train(log, catalog, calendar_split(log, windows, "test"), FAST, features)
    users = np.arange(min(log.n_users, 60))
    for k in (1, 7, 25):
        recs = model.recommend(users, k)
        assert all(len(items) == k for items in recs.items)
        assert all(len(set(items.tolist())) == k for items in recs.items)
        assert all(((items >= 0) & (items < catalog.size)).all() for items in recs.items)
    fresh = model.recommend(users, 10, exclude_purchased=True)
    for user, items in zip(fresh.users, fresh.items, strict=True):
        assert model.index.purchase_counts[user, items].sum() == 0


def test_single_sources_rank_what_they_claim(log, catalog, windows, features):
    index = fit_split_index(log, catalog, calendar_split(log, windows, "test"), FAST, features)
    buyer = int(np.flatnonzero(np.diff(index.purchase_counts.indptr) > 0)[0])
    repeat = recommend_source(index, "repeat", np.array([buyer]), 5)
    assert repeat.reasons[0][0] == "repeat"
    assert index.purchase_counts[buyer, repeat.items[0][0]] > 0
    popular = recommend_source(index, "popularity", np.array([buyer, buyer + 1]), 5)
    assert popular.items[0].tolist() == popular.items[1].tolist()
    assert popular.items[0][0] == int(np.argmax(index.trending))
    with pytest.raises(ValueError, match="contender"):
        recommend_source(index, "oracle", np.array([buyer]), 5)


def test_single_sources_read_from_the_candidates_rank_as_recommend_source(log, catalog, windows,
                                                                         features):
    split = last_basket_split(log, windows, "test")
    index = fit_split_index(log, catalog, split, FAST, features)
    for target in ("all", "new"):
        data = evaluation_set(index, split, target)
        for name in SOURCE_OF:
            direct = recommend_source(index, name, data.users, 20, target == "new").as_dict()
            assert single_source_recommendations(index, data, name, target == "new") == direct


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


def test_each_contender_s_view_assembles_back_into_the_evaluation(log, catalog, windows,
                                                                   features):
    """The contender_* assets hold one contender each; the selection puts them together again."""
    split = calendar_split(log, windows, "test")
    results = {"calendar": {"test": {**evaluate(train(log, catalog, split, FAST, features), split),
                                     "skipped": {}}}}
    views = [contender_view(results, name) for name in CONTENDERS]
    assert views[1]["protocols"]["calendar"]["test"]["all"]["metrics"] == \
        results["calendar"]["test"]["all"]["models"]["als"]
    assert assemble(views) == results
