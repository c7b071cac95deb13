"""ml.kernels: the compiled steps training and serving share."""

from __future__ import annotations

import numpy as np

from ml.kernels import factor_scores, pair_dots, top_k_rows


def test_top_k_breaks_ties_by_the_lower_column():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(50, 30)).astype(np.float64)  # many ties
    items, values = top_k_rows(scores, 7)
    for row in range(len(scores)):
        expected = np.lexsort((np.arange(30), -scores[row]))[:7]
        assert items[row].tolist() == expected.tolist()
        assert values[row].tolist() == scores[row, expected].tolist()


def test_top_k_ranks_nan_last_and_caps_k_at_the_columns():
    items, values = top_k_rows(np.array([[np.nan, 1.0, -np.inf, np.nan, 3.0]]), 10)
    assert items.tolist() == [[4, 1, 2, 0, 3]]
    assert values[0, :3].tolist() == [3.0, 1.0, -np.inf] and np.isnan(values[0, 3:]).all()
    items, _ = top_k_rows(np.zeros((2, 0)), 3)
    assert items.shape == (2, 0)


def test_factor_scores_equal_pair_dots_bit_for_bit():
    rng = np.random.default_rng(4)
    users = rng.normal(size=(20, 16)).astype(np.float32)
    items = rng.normal(size=(40, 16)).astype(np.float32)
    dense = factor_scores(users, np.arange(20), np.ascontiguousarray(items.T))
    assert dense.dtype == np.float32 and dense.shape == (20, 40)
    pairs = pair_dots(users, np.repeat(np.arange(20), 40), items, np.tile(np.arange(40), 20))
    assert np.array_equal(dense.ravel(), pairs)
    np.testing.assert_allclose(dense, users @ items.T, rtol=1e-5, atol=1e-5)


def test_top_k_equals_a_full_sort_on_every_kind_of_row():
    rng = np.random.default_rng(5)
    rows = [rng.normal(size=(40, 300)),
            np.where(rng.random((40, 300)) < 0.05, rng.random((40, 300)), 0.0),  # mostly zeros
            np.sort(rng.normal(size=(5, 300)), axis=1),  # ascending: every entry enters
            np.where(rng.random((40, 60)) < 0.3, np.nan, rng.integers(0, 3, (40, 60)) * 1.0),
            np.full((3, 20), np.nan),
            rng.normal(size=(10, 300)).astype(np.float32)]
    for scores in rows:
        for k in (1, 7, 40):
            items, values = top_k_rows(scores, k)
            for row in range(len(scores)):
                key = np.where(np.isnan(scores[row]), np.inf, -scores[row])
                expected = np.lexsort((np.arange(scores.shape[1]), key))[:k]
                assert items[row].tolist() == expected.tolist()
                np.testing.assert_array_equal(values[row], scores[row, expected])
