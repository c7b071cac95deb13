"""The serving bundle round-trips: what is loaded recommends exactly what was saved."""

import numpy as np
import pytest

from ml.bundle import load_bundle, save_bundle
from ml.ranking.training import train_hybrid
from tests.ml.test_training import FAST


@pytest.fixture(scope="module")
def model(log, catalog, windows):
    return train_hybrid(log, catalog, windows.as_of + 1, 14, FAST)


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
    card.write_text(card.read_text().replace('"bundle_format": 1', '"bundle_format": 99'))
    with pytest.raises(ValueError, match="bundle_format"):
        load_bundle(tmp_path)
