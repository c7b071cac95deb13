"""Metrics against hand-computed answers."""

import math

import pytest

from ml.evaluation.metrics import (
    average_precision_at_k,
    catalog_coverage,
    hit_rate_at_k,
    ndcg_at_k,
    ranking_report,
    recall_at_k,
)


def test_perfect_ranking_scores_one_and_no_hits_score_zero():
    relevant = {"a", "b"}
    for metric in (ndcg_at_k, recall_at_k, average_precision_at_k, hit_rate_at_k):
        assert metric(relevant, ["a", "b", "c"], 3) == pytest.approx(1.0)
        assert metric(relevant, ["x", "y", "z"], 3) == 0.0


def test_ndcg_worked_example():
    # Hits at ranks 2 and 4 of 5; two relevant items.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k({"b", "d"}, ["a", "b", "c", "d", "e"], 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k({"b", "d"}, ["a", "b", "c", "d", "e"], 5) == pytest.approx(0.6509209)


def test_recall_divides_by_all_relevant_items_and_respects_k():
    relevant = {"a", "b", "c", "d"}
    assert recall_at_k(relevant, ["a", "x", "b", "c"], 2) == 0.25
    assert recall_at_k(relevant, ["a", "x", "b", "c"], 4) == 0.75


def test_average_precision_worked_example():
    # Hits at ranks 1 and 3: (1/1 + 2/3) / min(3, 2)
    assert average_precision_at_k({"a", "c"}, ["a", "b", "c"], 3) == pytest.approx((1 + 2 / 3) / 2)


def test_coverage_counts_distinct_items_in_top_k():
    assert catalog_coverage([["a", "b", "c"], ["a", "d", "e"]], catalog_size=10, k=2) == 0.3


def test_report_averages_over_users_with_relevant_items_only():
    truth = {"u1": {"a"}, "u2": {"z"}, "u3": set()}
    recs = {
        "u1": ["a"] + list("bcdefghijklmnopqrst"),
        "u2": list("abcdefghijklmnopqrst"),
        "u3": ["a"],
    }
    report = ranking_report(truth, recs, catalog_size=26)
    assert report["users"] == 2
    assert report["ndcg@10"] == pytest.approx(0.5)
    assert report["hit_rate@10"] == pytest.approx(0.5)
    assert report["recall@20"] == pytest.approx(0.5)
    assert report["coverage@10"] == pytest.approx(10 / 26)


def test_empty_relevant_set_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="relevant"):
        ndcg_at_k(set(), ["a"], 10)
