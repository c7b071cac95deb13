"""ml.online.scorer gives, one user or a few users at a time, exactly what the batch code gives
(features bit for bit, the same ranking, scores and reasons), on a trained bundle, for every user
with a history."""

from __future__ import annotations

import numpy as np
import pytest

from ml.candidates import NEIGHBOR_SOURCES
from ml.online.scorer import OnlineScorer
from ml.ranking.features import FEATURES, pair_features
from ml.ranking.hybrid import FittedContender

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scorer(trained) -> OnlineScorer:
    return OnlineScorer(trained.bundle.model)


def users_with_history(index) -> np.ndarray:
    return np.flatnonzero(index.has_history(np.arange(len(index.user_ids))))


@pytest.mark.parametrize("exclude_purchased", [False, True])
def test_features_equal_pair_features_for_every_user(trained, scorer, exclude_purchased):
    index = trained.bundle.model.index
    users = users_with_history(index)
    assert len(users) > 200
    for user in users.tolist():
        pairs = index.candidates(np.array([user]), exclude_purchased=exclude_purchased)
        candidates, online = scorer.prepare([user], exclude_purchased)
        assert candidates.items.tolist() == pairs["item"].tolist(), user
        batch = pair_features(index, pairs)
        assert online.shape == (len(pairs), len(FEATURES))
        assert np.array_equal(online, batch, equal_nan=True), user


@pytest.mark.parametrize("exclude_purchased", [False, True])
@pytest.mark.parametrize("k", [10, 100])  # 100 > candidates: the trending padding too
def test_recommend_equals_hybrid_model_for_every_user(trained, scorer, exclude_purchased, k):
    model = trained.bundle.model
    padded = 0
    for user in users_with_history(model.index).tolist()[::2]:  # the batch code is slow per user
        expected = model.recommend(np.array([user]), k, exclude_purchased=exclude_purchased)
        items, scores, reasons = scorer.recommend(user, k, exclude_purchased)
        assert items.tolist() == expected.items[0].tolist(), user
        assert np.array_equal(scores, expected.scores[0]), user
        assert reasons == expected.reasons[0], user
        padded += "trending" in reasons[len(scorer.rank(user, exclude_purchased).items):]
    if k == 100:
        assert padded > 0  # the padding branch was exercised


def test_bundle_booster_is_scored_on_the_private_path_like_inplace_predict(trained, scorer):
    # The loaded bundle's booster; tests/ml/test_online_predictor.py covers sizes and fallbacks.
    booster = trained.bundle.model.booster
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, len(FEATURES))).astype(np.float32)
    features[rng.random(features.shape) < 0.2] = np.nan
    assert scorer.predict.path == "private"
    np.testing.assert_array_equal(scorer.predict(features),
                                  booster.inplace_predict(features, missing=np.nan))


def test_anchor_is_the_profile_item_contributing_most(trained, scorer):
    index = trained.bundle.model.index
    checked = {source: 0 for source in NEIGHBOR_SOURCES}
    for user in users_with_history(index).tolist()[:60]:
        ranked = scorer.rank(user)
        for item, source, anchor in zip(ranked.items.tolist(), ranked.sources.tolist(),
                                        ranked.anchors.tolist(), strict=True):
            if source not in checked:
                assert anchor == -1, (user, item, source)
                continue
            row = getattr(index, NEIGHBOR_SOURCES[source])[user]
            profile = row.toarray().ravel() / row.sum()
            neighbors = getattr(index, f"{source}_neighbors")
            contributions = profile * neighbors[:, item].toarray().ravel()
            assert anchor == int(np.argmax(contributions)), (user, item, source)
            checked[source] += 1
    assert checked["content"] > 20 and checked["copurchase"] > 20, checked
    assert sum(checked.values()) > 100, checked


@pytest.mark.parametrize("exclude_purchased", [False, True])
def test_ranking_users_together_equals_ranking_each_alone(trained, scorer, exclude_purchased):
    users = users_with_history(trained.bundle.model.index)
    for start in range(0, len(users), 7):
        chunk = users[start:start + 7]
        together = scorer.rank_many(chunk, exclude_purchased)
        assert [r.user for r in together] == chunk.tolist()
        for ranked in together:
            alone = scorer.rank(ranked.user, exclude_purchased)
            assert np.array_equal(ranked.items, alone.items), ranked.user
            assert np.array_equal(ranked.scores, alone.scores), ranked.user
            assert ranked.sources.tolist() == alone.sources.tolist(), ranked.user
            assert np.array_equal(ranked.anchors, alone.anchors), ranked.user
    assert scorer.rank_many(np.zeros(0, dtype=np.int64)) == []


@pytest.mark.parametrize("contender", ["ease", "sequence", "als", "popularity"])
@pytest.mark.parametrize("exclude_purchased", [False, True])
def test_a_single_source_contender_serves_what_it_was_judged_on(trained, contender,
                                                              exclude_purchased):
    """No booster: the source's own ranking, padded with trending, as recommend_source gives."""
    index = trained.bundle.model.index
    model = FittedContender(index, None, contender)
    online = OnlineScorer(model)
    assert online.predict is None and online.source == model.source
    for user in users_with_history(index).tolist()[:80]:
        expected = model.recommend(np.array([user]), 10, exclude_purchased)
        items, _, reasons = online.recommend(user, 10, exclude_purchased)
        assert items.tolist() == expected.items[0].tolist(), (contender, user)
        assert set(reasons) <= {model.source, "trending"}
