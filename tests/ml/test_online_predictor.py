"""ml.online.scorer._DensePredictor: its private-API path gives `Booster.inplace_predict`'s
scores, and it falls back to `inplace_predict` (with the same scores) whenever that path is
unavailable."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import xgboost as xgb
import xgboost.core

from ml.online.scorer import _DensePredictor
from ml.ranking.features import FEATURES, RankerParams

BATCH_SIZES = [1, 2, 7, 150, 1000]  # one candidate, one request's candidates, a micro-batch's


def features(rows: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    return matrix


def train(objective: str, **params) -> xgb.Booster:
    """A small booster on data where feature 0 decides the label, loaded as serving loads it."""
    x = features(600, seed=0)
    y = (np.nan_to_num(x[:, 0]) > 0.5).astype(np.float32)
    ranker = RankerParams()
    matrix = xgb.DMatrix(x, label=y, qid=np.repeat(np.arange(30), 20), missing=np.nan)
    booster = xgb.train({**ranker.xgb_params(), "objective": objective, **params}, matrix,
                        num_boost_round=10)
    booster.set_param({"nthread": 1})
    return booster


@pytest.fixture(scope="module")
def ranker() -> xgb.Booster:
    return train(RankerParams().objective)


@pytest.mark.parametrize("rows", BATCH_SIZES)
def test_private_path_scores_equal_inplace_predict(ranker, rows):
    predictor = _DensePredictor(ranker)
    # else this xgboost broke the bindings: see ml/online/scorer.py
    assert predictor.path == "private"
    x = features(rows)
    x[:2, 0] = [2.0, -2.0][:rows]  # the deciding feature on both sides of its split
    scores = predictor(x)
    assert scores.dtype == np.float32 and scores.shape == (rows,)
    np.testing.assert_allclose(scores, ranker.inplace_predict(x, missing=np.nan), rtol=0, atol=0)
    assert np.ptp(scores) > 0 or rows == 1  # the trees split: not a constant being compared


def test_private_path_scores_no_rows_and_non_contiguous_input(ranker):
    predictor = _DensePredictor(ranker)
    assert predictor(features(0)).shape == (0,)
    x = features(40)[::2]  # every other row: a strided view, copied to C order first
    np.testing.assert_allclose(predictor(x), ranker.inplace_predict(x, missing=np.nan),
                               rtol=0, atol=0)


def private_bindings(monkeypatch, **changes) -> None:
    """Make the private names `ml.online.scorer` imports from xgboost.core look changed (a
    missing name: None), leaving the real module, and so `inplace_predict`, as they are."""
    fake = types.ModuleType("xgboost.core")
    fake.__dict__.update(vars(xgboost.core))
    for name, value in changes.items():
        if value is None:
            delattr(fake, name)
        else:
            setattr(fake, name, value)
    monkeypatch.setitem(sys.modules, "xgboost.core", fake)


def failing_check_call(_):
    raise xgboost.core.XGBoostError("changed C API")


BREAKAGES = {  # name: (changes, the reason logged)
    "missing name": ({"make_jcargs": None}, "ImportError"),
    "changed signature": ({"make_jcargs": lambda config: config}, "TypeError"),
    "failing C call": ({"_check_call": failing_check_call}, "XGBoostError"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
@pytest.mark.parametrize("rows", BATCH_SIZES)
def test_falls_back_to_inplace_predict_with_identical_scores(ranker, monkeypatch, caplog,
                                                            breakage, rows):
    x = features(rows)
    expected = ranker.inplace_predict(x, missing=np.nan)
    changes, reason = BREAKAGES[breakage]
    private_bindings(monkeypatch, **changes)
    predictor = _DensePredictor(ranker)
    assert predictor.path == "inplace_predict"
    assert reason in caplog.text
    np.testing.assert_array_equal(predictor(x), expected)


def test_falls_back_when_the_private_scores_differ_from_inplace_predict(monkeypatch, caplog):
    # Bindings that still run but mean something else (here: margins, not probabilities).
    booster = train("binary:logistic", eval_metric="logloss")
    make_jcargs = xgboost.core.make_jcargs
    assert _DensePredictor(booster).path == "private"
    private_bindings(monkeypatch, make_jcargs=lambda **args: make_jcargs(**{**args, "type": 1}))
    predictor = _DensePredictor(booster)
    assert predictor.path == "inplace_predict"
    assert "differ from inplace_predict" in caplog.text
    x = features(50)
    np.testing.assert_array_equal(predictor(x), booster.inplace_predict(x, missing=np.nan))


def test_falls_back_for_a_model_with_several_scores_per_row(caplog):
    booster = train("multi:softprob", num_class=3, eval_metric="mlogloss")
    predictor = _DensePredictor(booster)
    assert predictor.path == "inplace_predict"
    assert "one score per row" in caplog.text
    x = features(7)
    np.testing.assert_array_equal(predictor(x), booster.inplace_predict(x, missing=np.nan))
