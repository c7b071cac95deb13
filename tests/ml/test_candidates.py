"""Candidate sources on data whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from ml.candidates import AlsParams, CandidateParams, top_k
from ml.data import Catalog, EventLog
from ml.neighbors import ease_neighbors
from ml.ranking.hybrid import pad_with_trending
from tests.builders import index_at, tiny_shop


def tiny_catalog(n: int, titles=None, brands=None, categories=None) -> Catalog:
    return Catalog.from_products(
        pd.DataFrame(
            {
                "item_id": [f"i{i:02d}" for i in range(n)],
                "title": titles or [f"thing {i}" for i in range(n)],
                "description": "",
                "category_path": categories or ["misc"] * n,
                "category_l1": [c.split(" > ")[0] for c in (categories or ["misc"] * n)],
                "brand": brands or [""] * n,
                "price": 10.0,
                "is_in_stock": True,
                "created_at": pd.Timestamp("2026-01-01"),
            }
        )
    )


def purchases(rows: list[tuple[str, int, str]], day: int = 1) -> pd.DataFrame:
    """(user, item number, order) -> fct_interactions-shaped purchases."""
    return pd.DataFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "item_id": [f"i{i:02d}" for _, i, _ in rows],
            "order_id": [o for _, _, o in rows],
            "session_id": [o for _, _, o in rows],
            "event_type": "purchase",
            "weight": 5.0,
            "quantity": 1,
            "price": 10.0,
            "occurred_at": pd.Timestamp("2026-02-01")
            + pd.to_timedelta(np.arange(len(rows)) + day, unit="m"),
        }
    )


CUTOFF = pd.Timestamp("2026-03-01").timestamp()
SMALL = CandidateParams(per_source=5, neighbors=5)


def test_als_recovers_withheld_item_on_two_taste_groups():
    # Users u0-u9 buy items 0-4, users u10-u19 buy items 5-9; u0 never bought item 4.
    rows = [(f"u{u}", i, f"o{u}") for u in range(10) for i in range(5) if (u, i) != (0, 4)]
    rows += [(f"u{u}", i, f"o{u}") for u in range(10, 20) for i in range(5, 10)]
    catalog = tiny_catalog(10)
    index = index_at(
        EventLog.from_interactions(purchases(rows), catalog),
        catalog,
        CUTOFF,
        AlsParams(factors=4, iterations=15, regularization=0.01),
        SMALL,
    )
    user = index.user_index["u0"]
    scores = index.source_scores("als", np.array([user]))[0]
    assert scores[4] > scores[5:].max()


def test_content_neighbours_share_words_brand_and_category():
    catalog = tiny_catalog(
        4,
        titles=["red wool scarf", "blue wool scarf", "steel kettle", "electric kettle"],
        brands=["knitco", "knitco", "boilr", "boilr"],
        categories=["fashion > scarves", "fashion > scarves", "home > kitchen", "home > kitchen"],
    )
    index = index_at(
        EventLog.from_interactions(purchases([("u0", 0, "o0")]), catalog),
        catalog,
        CUTOFF,
        AlsParams(factors=2, iterations=2),
        SMALL,
    )
    neighbours = index.content_neighbors.toarray()
    assert neighbours[0].argmax() == 1 and neighbours[2].argmax() == 3
    assert neighbours[0, 1] > 5 * neighbours[0, 2] and neighbours[0, 0] == 0


def test_copurchase_links_items_bought_in_the_same_basket():
    rows = [
        ("u0", 0, "o0"),
        ("u0", 1, "o0"),
        ("u1", 0, "o1"),
        ("u1", 1, "o1"),
        ("u2", 2, "o2"),
        ("u2", 3, "o2"),
        ("u3", 3, "o3"),
    ]
    catalog = tiny_catalog(4)
    index = index_at(
        EventLog.from_interactions(purchases(rows), catalog),
        catalog,
        CUTOFF,
        AlsParams(factors=2, iterations=2),
        SMALL,
    )
    together = index.copurchase_neighbors.toarray()
    assert together[0].argmax() == 1 and together[2].argmax() == 3
    assert together[0, 2] == 0 and together[0, 3] == 0


def test_candidates_union_sources_and_exclude_purchases(log, catalog, windows):
    index = index_at(
        log,
        catalog,
        windows.test_start,
        AlsParams(factors=8, iterations=3),
        CandidateParams(per_source=10),
    )
    buyers = np.flatnonzero(np.diff(index.purchase_counts.indptr) > 0)[:20]
    pairs = index.candidates(buyers)
    assert set(pairs["user"]) == set(buyers.tolist())
    assert not pairs.duplicated(["user", "item"]).any()
    assert pairs.groupby("user").size().max() <= 6 * 10
    assert pairs["repeat_rank"].notna().any()  # buyers get their own purchases back
    fresh = index.candidates(buyers, exclude_purchased=True)
    bought = index.purchase_counts[fresh["user"].to_numpy(), fresh["item"].to_numpy()]
    assert np.asarray(bought).ravel().max() == 0


def test_top_k_returns_best_first():
    items, scores = top_k(np.array([[0.1, 0.9, 0.5, 0.7]]), 3)
    assert items.tolist() == [[1, 3, 2]]
    assert scores[0].tolist() == pytest.approx([0.9, 0.7, 0.5])


def test_has_history_only_for_users_with_engagement_before_the_cutoff():
    events = purchases([("u0", 0, "o0"), ("u1", 1, "o1"), ("u2", 2, "o2")])
    events.loc[events["user_id"] == "u1", ["event_type", "weight"]] = ["return", -5.0]
    events.loc[events["user_id"] == "u2", "occurred_at"] = pd.Timestamp("2026-03-02")
    catalog = tiny_catalog(3)
    index = index_at(
        EventLog.from_interactions(events, catalog),
        catalog,
        CUTOFF,
        AlsParams(factors=2, iterations=2),
        SMALL,
    )
    users = np.array([index.user_index[u] for u in ("u0", "u1", "u2")])
    assert index.has_history(users).tolist() == [True, False, False]  # a return is no interest
    assert index.has_history(int(users[0])) and not index.has_history(int(users[2]))


def test_pad_with_trending_continues_below_with_new_unpurchased_trending_items():
    trending = np.array([3, 0, 4, 1, 2, 5])  # items, most trending first
    items, scores, reasons = pad_with_trending(
        trending, np.array([0, 1]), np.array([0.5, -0.25], np.float32), ["als", "content"], k=5,
        purchased=np.array([4], np.int32),
    )
    assert items.tolist() == [0, 1, 3, 2, 5]
    assert scores.tolist() == [0.5, -0.25, -1.25, -2.25, -3.25]
    assert reasons == ["als", "content", "trending", "trending", "trending"]
    items, scores, reasons = pad_with_trending(
        trending, np.array([2, 0, 1]), np.array([3.0, 2.0, 1.0]), ["a", "b", "c"], k=2
    )
    assert (items.tolist(), scores.tolist(), reasons) == ([2, 0], [3.0, 2.0], ["a", "b"])
    items, scores, reasons = pad_with_trending(
        trending, np.zeros(0, np.int64), np.zeros(0, np.float32), [], k=2
    )
    assert (items.tolist(), scores.tolist(), reasons) == ([3, 0], [-1.0, -2.0], ["trending"] * 2)


def planted_shop():
    """Thirty customers buy i2, then i0, then i1 (each a step of its own); twenty others buy i3
    and, another day, i4; ten more buy i5 and i6 apart. "next" bought i3 and then i0; "co" i3."""
    rows = []
    for n in range(30):
        rows += [(f"a{n}", 2, "purchase", 1, f"a{n}-1"), (f"a{n}", 0, "purchase", 2, f"a{n}-2"),
                 (f"a{n}", 1, "purchase", 4, f"a{n}-3")]
    for n in range(20):
        rows += [(f"b{n}", 3, "purchase", 6, f"b{n}-1"), (f"b{n}", 4, "purchase", 8, f"b{n}-2")]
    for n in range(10):
        rows += [(f"c{n}", 5, "purchase", 1, f"c{n}-1"), (f"c{n}", 6, "purchase", 3, f"c{n}-2")]
    rows += [("next", 3, "purchase", 5, "next-1"), ("next", 0, "purchase", 9, "next-2"),
             ("co", 3, "purchase", 5, "co-1")]
    return tiny_shop(rows, 8)


@pytest.mark.parametrize("source, user, expected", [
    # what follows the latest step (i0): i1, never i2, which comes before i0
    ("sequence", "next", 1),
    ("itemknn", "co", 4),  # what the buyers of i3 also bought
    ("ease", "co", 4),
])
def test_each_item_item_source_recovers_its_planted_pattern(source, user, expected):
    catalog, log = planted_shop()
    index = index_at(log, catalog, float(log.time.max()) + 1, AlsParams(factors=4),
                      CandidateParams(neighbors=5))
    me = index.user_index[user]
    scores = index.source_scores(source, np.array([me]))[0]
    scores[index.purchase_counts[me].indices] = -np.inf  # their own items: the repeat source's
    assert int(np.argmax(scores)) == expected, scores
    if source == "sequence":
        assert scores[2] == 0


def test_sequence_weights_the_latest_steps_first_and_ease_is_skipped_on_big_catalogs():
    catalog, log = planted_shop()
    index = index_at(log, catalog, float(log.time.max()) + 1, AlsParams(factors=4),
                      CandidateParams(neighbors=5, ease_max_items=7))
    me = index.user_index["next"]
    recent = index.recent[me].toarray().ravel()
    assert recent[0] == 1.0 and recent[3] == 0.5  # i0 the latest step, i3 the one before
    assert index.ease_neighbors.nnz == 0  # 8 items > ease_max_items: no EASE, and a reason
    _, reason = ease_neighbors(index.history, 5, 250.0, max_items=7)
    assert reason == "catalog of 8 items exceeds ease_max_items 7"


def test_ease_s_cholesky_inverse_is_the_inverse():
    from ml.neighbors import _spd_inverse

    rng = np.random.default_rng(3)
    presence = (rng.random((200, 40)) < 0.2).astype(np.float32)
    gram = presence.T @ presence + 10 * np.eye(40, dtype=np.float32)
    np.testing.assert_allclose(_spd_inverse(gram.copy()) @ gram, np.eye(40), atol=1e-4)
    with pytest.raises(ValueError, match="not positive definite"):
        _spd_inverse(-np.eye(3, dtype=np.float32))
