"""The service's logic (`serving.engine.Engine`) on a trained bundle, in process: each business
rule on and off, fallbacks, reasons, carousels, cache and model swaps. HTTP is test_http.py."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter

import numpy as np
import pytest
from serving_support import VERSION_1, VERSION_2, with_version

from serving.answers import LookupError404
from serving.engine import Engine
from serving.schemas import (
    CrossSellRequest,
    HomepageRequest,
    PopularRequest,
    RecommendContext,
    RecommendRequest,
    SimilarItemsRequest,
)
from serving.settings import ServingSettings

pytestmark = pytest.mark.integration

LOOSE = dict(exclude_out_of_stock=False, exclude_purchased=False, max_category_share=1.0,
             cache_size=0, request_logs=False)


def engine_for(folder, **settings) -> Engine:
    engine = Engine(ServingSettings(**{**LOOSE, **settings}))
    engine.load(folder, f"tailor:{folder.name}")
    return engine


@pytest.fixture(scope="module")
def loose(trained) -> Engine:
    return engine_for(trained.folder)


def users(engine: Engine) -> list[str]:
    """Customers the engine personalizes for (a history and consent)."""
    state = engine.state
    return [u for u in state.bundle.model.index.user_ids.tolist()
            if state.user(u) is not None and state.consent.allows(u)]


def recommend(engine: Engine, user: str, k: int = 10, **request) -> list:
    return engine.recommend(RecommendRequest(user_id=user, k=k, **request), "rid").items


def ids(items) -> list[str]:
    return [i.item_id for i in items]


def test_a_batch_of_requests_gets_the_answers_each_would_get_alone(loose):
    people = users(loose)[:12]
    item = loose.state.item_id_list[0]
    requests = [RecommendRequest(user_id=user, k=10) for user in people]
    requests += [
        RecommendRequest(user_id=people[0], k=10),  # the same user twice in one batch
        RecommendRequest(user_id="nobody-knows-me", k=5),
        RecommendRequest(user_id=people[1], k=5, exclude_item_ids=[item, "no-such-item"]),
        RecommendRequest(user_id="nobody-knows-me", placement="cart",
                         context=RecommendContext(cart_item_ids=[item])),
    ]
    batch = loose.recommend_many([(r, f"id-{i}") for i, r in enumerate(requests)])
    alone = [loose.recommend(r, f"id-{i}") for i, r in enumerate(requests)]
    assert [a.model_dump() for a in batch] == [a.model_dump() for a in alone]
    assert [a.request_id for a in batch] == [f"id-{i}" for i in range(len(requests))]
    assert sum(a.personalized for a in batch) == 14 and batch[13].fallback_reason is not None
    assert batch[14].unknown_item_ids == ["no-such-item"]


def test_without_rules_the_answer_is_the_models_ranking(trained, loose):
    model = trained.bundle.model
    for user in users(loose)[:40]:
        expected = model.recommend(np.array([model.index.user_index[user]]), 10)
        items = recommend(loose, user)
        assert ids(items) == model.index.catalog.item_ids[expected.items[0]].tolist()
        assert [i.source for i in items] == list(expected.reasons[0])
        assert np.allclose([i.score for i in items], expected.scores[0], atol=1e-6)


def test_out_of_stock_items_are_never_recommended(trained, loose):
    strict = engine_for(trained.folder, exclude_out_of_stock=True)
    in_stock = loose.state.in_stock
    index = loose.state.item_index
    affected = [u for u in users(loose)
                if not all(in_stock[index[i]] for i in ids(recommend(loose, u)))]
    assert len(affected) > 10  # the model alone does propose items out of stock
    for user in affected:
        items = ids(recommend(strict, user))
        assert len(items) == 10
        assert all(in_stock[index[i]] for i in items)


def test_already_bought_items_are_dropped_only_when_the_shop_says_so(trained, loose):
    strict = engine_for(trained.folder, exclude_purchased=True)
    state = loose.state
    counts = state.scorer.purchase_counts
    affected = 0
    for user in users(loose):
        bought = set(state.item_ids[counts.row(state.user(user))[0]].tolist())
        if bought & set(ids(recommend(loose, user))):
            affected += 1
            answer = recommend(strict, user)
            assert len(answer) == 10
            assert not bought & set(ids(answer))
    assert affected > 10


def test_no_category_exceeds_its_share_of_a_carousel(trained, loose):
    diverse = engine_for(trained.folder, max_category_share=0.3)  # at most 3 of 10
    concentrated = [u for u in users(loose)
                    if max(Counter(i.category for i in recommend(loose, u)).values()) > 3]
    assert len(concentrated) > 10
    for user in concentrated:
        items = recommend(diverse, user)
        assert len(items) == 10
        assert max(Counter(i.category for i in items).values()) <= 3


def test_unknown_and_non_consenting_users_get_the_trending_answer(trained, loose):
    trending = ids(loose.popular(PopularRequest(k=10), "rid").items)
    unknown = loose.recommend(RecommendRequest(user_id="u999999", k=10), "rid")
    refused = loose.recommend(RecommendRequest(user_id=trained.opted_out, k=10), "rid")
    consenting = loose.recommend(RecommendRequest(user_id=users(loose)[0], k=10), "rid")
    assert (unknown.personalized, unknown.fallback_reason) == (False, "unknown_user")
    assert (refused.personalized, refused.fallback_reason) == (False, "no_consent")
    assert (consenting.personalized, consenting.fallback_reason) == (True, None)
    assert ids(unknown.items) == ids(refused.items) == trending
    assert {i.reason for i in unknown.items} == {"trending"}
    # The opted-out user has a history the model could have used.
    assert loose.state.user(trained.opted_out) is not None


def test_consent_file_from_settings_is_used_when_the_bundle_has_none(trained, tmp_path):
    folder = tmp_path / "no-consent"
    shutil.copytree(trained.folder, folder)
    (folder / "consent.parquet").unlink()
    user = users(engine_for(trained.folder))[5]
    csv = tmp_path / "consent.csv"
    csv.write_text(f"user_id,consent_personalization\n{user},false\n")
    without_file = engine_for(folder)
    with_file = engine_for(folder, consent_path=csv)
    assert without_file.recommend(RecommendRequest(user_id=user), "r").personalized is True
    answer = with_file.recommend(RecommendRequest(user_id=user), "r")
    assert (answer.personalized, answer.fallback_reason) == (False, "no_consent")


def test_a_changed_consent_file_is_honoured_without_a_new_model(trained, tmp_path):
    folder = tmp_path / "no-consent"
    shutil.copytree(trained.folder, folder)
    (folder / "consent.parquet").unlink()
    user = users(engine_for(trained.folder))[7]
    csv = tmp_path / "consent.csv"
    csv.write_text("user_id,consent_personalization\nsomeone-else,false\n")
    engine = engine_for(folder, consent_path=csv, cache_size=100, cache_ttl_s=600)
    assert engine.recommend(RecommendRequest(user_id=user), "r").personalized is True
    assert engine.refresh_consent() is False  # unchanged file: nothing to do
    csv.write_text(f"user_id,consent_personalization\n{user},false\n")
    os.utime(csv, (time.time() + 5, time.time() + 5))  # a distinct mtime however fast we are
    assert engine.refresh_consent() is True
    answer = engine.recommend(RecommendRequest(user_id=user), "r")
    assert (answer.personalized, answer.fallback_reason, answer.cached) == (
        False, "no_consent", False)


def test_context_items_are_not_recommended_and_unknown_ids_are_reported(loose):
    user = users(loose)[1]
    first = ids(recommend(loose, user))
    answer = loose.recommend(RecommendRequest(
        user_id=user, placement="product_page", k=10,
        context=RecommendContext(viewed_item_ids=[first[0], "nope-1"], cart_item_ids=[first[1]]),
        exclude_item_ids=[first[2], "nope-2", "nope-1"]), "rid")
    assert not {first[0], first[1], first[2]} & set(ids(answer.items))
    assert answer.unknown_item_ids == ["nope-1", "nope-2"]
    assert answer.placement == "product_page" and len(answer.items) == 10


def test_unknown_visitor_on_a_product_page_gets_items_like_the_viewed_one(loose):
    state = loose.state
    viewed = state.item_ids[state.trending_order[5]]
    answer = loose.recommend(RecommendRequest(
        user_id="visitor-1", placement="product_page",
        context=RecommendContext(viewed_item_ids=[viewed])), "rid")
    similar = ids(loose.similar_items(SimilarItemsRequest(item_id=viewed), "rid").items)
    assert answer.fallback_reason == "unknown_user"
    assert ids(answer.items)[:3] == similar[:3]
    assert answer.items[0].reason == f"similar to {viewed}"


def test_reasons_name_the_history_item_behind_content_and_copurchase(loose):
    state = loose.state
    seen = Counter()
    for user in users(loose)[:80]:
        history = set(state.item_ids[state.scorer.users.rows(state.user(user)).history[0]].tolist())
        for item in recommend(loose, user):
            if item.source in ("content", "copurchase"):
                anchor = item.reason.rsplit(" ", 1)[-1]
                assert anchor in history, (user, item)
                prefix = "similar to" if item.source == "content" else "bought together with"
                assert item.reason == f"{prefix} {anchor}"
                seen[item.source] += 1
            elif item.source == "als":
                assert item.reason == "picked for you (als)"
    assert seen["content"] > 0 and seen["copurchase"] > 0


def test_similar_items_are_content_neighbours_best_first(loose):
    state = loose.state
    item = int(state.trending_order[0])
    columns, values = state.scorer.neighbors["content"].row(item)
    expected = state.item_ids[columns[np.argsort(-values, kind="stable")]].tolist()
    answer = loose.similar_items(SimilarItemsRequest(item_id=state.item_ids[item], k=5), "rid")
    assert ids(answer.items) == expected[:5]
    assert all(i.reason == f"similar to {state.item_ids[item]}" for i in answer.items)
    assert answer.personalized is False
    with pytest.raises(LookupError404) as error:
        loose.similar_items(SimilarItemsRequest(item_id="i99999"), "rid")
    assert error.value.field == "item_id"


def test_cross_sell_leaves_out_the_cart_and_its_near_duplicates(trained, loose):
    state = loose.state
    content = state.scorer.neighbors["content"]
    threshold = 0.3
    strict = engine_for(trained.folder, cross_sell_max_similarity=threshold)
    lenient = engine_for(trained.folder, cross_sell_max_similarity=1.0)
    duplicates_seen = 0
    for cart in ([int(i)] for i in state.trending_order[:30]):
        cart_ids = state.item_ids[cart].tolist()
        near = set()
        for item in cart:
            columns, values = content.row(item)
            near |= set(state.item_ids[columns[values > threshold]].tolist())
        strict_ids = ids(strict.cross_sell(CrossSellRequest(cart_item_ids=cart_ids), "r").items)
        lenient_answer = lenient.cross_sell(CrossSellRequest(cart_item_ids=cart_ids), "r").items
        assert not set(cart_ids) & set(strict_ids)
        assert not near & set(strict_ids)
        duplicates_seen += bool(near & set(ids(lenient_answer)))
        assert lenient_answer[0].source == "copurchase"
        assert lenient_answer[0].reason == f"bought together with {cart_ids[0]}"
    assert duplicates_seen > 0  # without the rule, near-duplicates do come back


def test_homepage_has_three_carousels_without_repeats(loose):
    state = loose.state
    user = users(loose)[2]
    answer = loose.homepage(HomepageRequest(user_id=user, k=6), "rid")
    index = state.user(user)
    recent_items, _ = state.scorer.users.rows(index).history
    days = {i: d for i, d in zip(*state.scorer.users.rows(index).last_seen, strict=True)}
    recent = state.item_ids[min(recent_items.tolist(), key=lambda i: (days[i], i))]
    favourite = state.categories[state.bundle.model.index.user_segment[index]]
    assert [c.id for c in answer.carousels] == [
        "picked_for_you", f"because_you_viewed_{recent}", f"top_in_{favourite}"]
    shown = [i.item_id for c in answer.carousels for i in c.items]
    assert len(shown) == len(set(shown)) == 18
    assert recent not in shown[6:]  # the viewed item is not among what follows it
    assert {i.category for i in answer.carousels[2].items} == {favourite}
    assert answer.personalized is True
    visitor = loose.homepage(HomepageRequest(user_id="nobody"), "rid")
    assert [c.id for c in visitor.carousels][0] == "trending"
    assert visitor.carousels[1].id.startswith("top_in_")
    assert (visitor.personalized, visitor.fallback_reason) == (False, "unknown_user")


def test_popular_by_category_and_segment(loose):
    state = loose.state
    category = str(state.categories[0])
    by_category = loose.popular(PopularRequest(k=5, category=category), "rid").items
    assert len(by_category) == 5 and {i.category for i in by_category} == {category}
    loyal = loose.popular(PopularRequest(k=5, segment="loyal"), "rid").items
    scores = state.segment_scores["loyal"]
    assert ids(loyal) == state.item_ids[np.argsort(-scores, kind="stable")[:5]].tolist()
    assert loyal[0].reason == "popular with loyal customers"
    for field, request in (("category", PopularRequest(category="moon")),
                           ("segment", PopularRequest(segment="vip"))):
        with pytest.raises(LookupError404) as error:
            loose.popular(request, "rid")
        assert error.value.field == field


def test_cache_serves_repeats_and_never_an_older_models_answer(trained, tmp_path):
    engine = engine_for(trained.folder, cache_size=100, cache_ttl_s=600, exclude_out_of_stock=True)
    user = users(engine)[0]
    first = engine.recommend(RecommendRequest(user_id=user), "one")
    again = engine.recommend(RecommendRequest(user_id=user), "two")
    assert (first.cached, again.cached) == (False, True)
    assert again.request_id == "two" and ids(again.items) == ids(first.items)
    assert first.model_version == VERSION_1
    top = ids(first.items)[0]
    newer = with_version(trained.folder, tmp_path / "v2", VERSION_2, out_of_stock=[top])
    engine.load(newer, "tailor:v2")
    after = engine.recommend(RecommendRequest(user_id=user), "three")
    assert (after.model_version, after.cached) == (VERSION_2, False)
    assert top not in ids(after.items)  # computed by the new model, not the cached v1 answer
    assert engine.recommend(RecommendRequest(user_id=user), "four").cached is True


def test_reload_swaps_only_for_a_new_tag(trained, tmp_path):
    engine = engine_for(trained.folder)
    before = engine.state
    newer = with_version(trained.folder, tmp_path / "v2", VERSION_2, out_of_stock=[])
    assert engine.reload_latest(lambda: (before.tag, str(trained.folder))) == (False, before.tag)
    assert engine.state is before
    assert engine.reload_latest(lambda: ("tailor:v2", str(newer))) == (True, "tailor:v2")
    assert engine.state.version == VERSION_2
    broken = ("tailor:broken", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        engine.reload_latest(lambda: broken)
    assert engine.state.version == VERSION_2  # a failed load keeps the serving model
    assert engine.reload_latest(lambda: broken) == (False, "tailor:broken")  # not retried...
    with pytest.raises(FileNotFoundError):
        engine.reload_latest(lambda: broken, force=True)  # ...unless an admin asks
