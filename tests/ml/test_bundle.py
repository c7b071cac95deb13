"""The serving bundle round-trips: what is loaded recommends exactly what was saved."""

import numpy as np
import pytest

from ml.bundle import load_bundle, save_bundle
from ml.evaluation.protocols import serve_split
from ml.ranking.hybrid import FittedContender
from ml.ranking.training import train
from tests.ml.test_training import FAST


@pytest.fixture(scope="module")
def model(log, catalog, windows, features):
    return train(log, catalog, serve_split(log, windows.as_of + 1), FAST, features)


def test_round_trip_gives_identical_recommendations(model, tmp_path):
    save_bundle(model, tmp_path, {"version": "v-test"})
    bundle = load_bundle(tmp_path)
    users = np.arange(30)
    before, after = model.recommend(users, 10), bundle.model.recommend(users, 10)
    for a, b in zip(before.items, after.items, strict=True):
        assert a.tolist() == b.tolist()
    assert bundle.version == "v-test"
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))


def test_a_bundle_of_another_format_is_refused(model, tmp_path):
    save_bundle(model, tmp_path, {"version": "v-test"})
    card = tmp_path / "model_card.json"
    card.write_text(card.read_text().replace('"bundle_format": 2', '"bundle_format": 99'))
    with pytest.raises(ValueError, match="bundle_format"):
        load_bundle(tmp_path)


def test_a_single_source_contender_round_trips_without_a_ranker(model, tmp_path):
    ease = FittedContender(model.index, None, "ease")
    save_bundle(ease, tmp_path, {"version": "v-ease"})
    assert not (tmp_path / "ranker.ubj").exists()
    bundle = load_bundle(tmp_path)
    assert bundle.model.contender == "ease" and bundle.model.booster is None
    users = np.arange(30)
    assert (bundle.model.recommend(users, 10).as_dict() == ease.recommend(users, 10).as_dict())
