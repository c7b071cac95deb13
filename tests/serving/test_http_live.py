"""Answers that use the online profile, over real HTTP and a real Redis: read-your-writes (an answer
asked after an event's 2xx reflects it, with or without a stream worker in between), a cached
answer never hides a newer event, anonymous visitors with events get answers from them, and the
service keeps answering from the model alone while Redis is away."""

from __future__ import annotations

import pytest
from serving_support import run_worker_until_applied, serve_with_stream, stop_server

pytestmark = pytest.mark.integration

LATER = "2026-11-30T12:00:{:02d}Z"  # after the trained bundle's cutoff


@pytest.fixture(scope="module")
def live(trained, tmp_path_factory, stream_redis):
    running = serve_with_stream(trained, tmp_path_factory, stream_redis,
                                TAILOR_SERVING_CACHE_SIZE="1000", TAILOR_SERVING_CACHE_TTL_S="600",
                                TAILOR_SERVING_EXCLUDE_PURCHASED="true")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def customer(trained):
    index = trained.bundle.model.index
    return [u for u in index.user_ids.tolist() if index.history[index.user_index[u]].nnz
            and u != trained.opted_out][5]


def post_events(live, *events):
    response = live.post("events", {"events": list(events)})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == [e["event_id"] for e in events]


def event(event_id, item, kind="view", second=0, **ids):
    return {"event_id": event_id, "session_id": "s-live", "item_id": item, "event_type": kind,
            "occurred_at": LATER.format(second), **ids}


def recommend(live, **body):
    response = live.post("recommend", {"k": 10, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_purchase_leaves_the_next_answer_at_once_and_the_cache_never_hides_it(live, customer):
    first = recommend(live, user_id=customer)
    again = recommend(live, user_id=customer)
    assert first["personalized"] and again["cached"]
    top = first["items"][0]["item_id"]
    post_events(live, event("p1", top, "purchase", user_id=customer, price=5.0, quantity=1))
    after = recommend(live, user_id=customer)
    assert not after["cached"] and after["personalized"]
    assert top not in [i["item_id"] for i in after["items"]]  # the shop's rule: bought, not shown
    assert recommend(live, user_id=customer)["cached"]  # nothing new: the cache serves again


def test_the_latest_view_leads_the_homepage_with_or_without_a_worker(live, customer, trained,
                                                                      stream_redis, tmp_path):
    items = trained.bundle.model.index.catalog.item_ids.tolist()
    for n, item in enumerate(items[20:23]):
        post_events(live, event(f"v{n}", item, second=10 + n, user_id=customer))
        carousels = live.post("homepage", {"user_id": customer}).json()["carousels"]
        assert f"because_you_viewed_{item}" in [c["id"] for c in carousels]
    # a worker moves the events from the inbox into the profile: answers do not change
    before = live.post("homepage", {"user_id": customer}).json()
    status, output = run_worker_until_applied(stream_redis.url, tmp_path / "home", "live-1")
    assert status == 0, output
    after = live.post("homepage", {"user_id": customer}).json()
    assert after["carousels"] == before["carousels"] and after["cached"]


def test_an_anonymous_visitor_with_events_gets_answers_from_them(live, trained):
    index = trained.bundle.model.index
    anonymous = {"anonymous_id": "visitor-live-1"}
    before = recommend(live, **anonymous)
    assert not before["personalized"] and before["fallback_reason"] == "unknown_user"
    viewed = index.catalog.item_ids[30]
    post_events(live, event("a1", viewed, second=30, **anonymous),
                event("a2", viewed, "add_to_cart", second=31, **anonymous))
    after = recommend(live, **anonymous)
    assert after["personalized"] and after["fallback_reason"] is None and not after["cached"]
    assert [i["item_id"] for i in after["items"]] != [i["item_id"] for i in before["items"]]
    page = live.post("homepage", anonymous).json()
    assert page["personalized"] and page["carousels"][0]["id"] == "picked_for_you"
    assert f"because_you_viewed_{viewed}" in [c["id"] for c in page["carousels"]]
    cross = live.post("cross_sell", {"cart_item_ids": [viewed], **anonymous}).json()
    assert cross["personalized"] and viewed not in [i["item_id"] for i in cross["items"]]


def test_a_request_names_someone(live):
    response = live.post("recommend", {"k": 3})
    assert response.status_code == 400
    assert "user_id or anonymous_id" in response.text


def test_without_redis_answers_come_from_the_model_alone(live, stream_redis, customer):
    stream_redis.kill()
    try:
        answer = recommend(live, user_id=customer, k=4)
        assert answer["personalized"]
        anonymous = recommend(live, anonymous_id="visitor-live-2")
        assert not anonymous["personalized"]
    finally:
        stream_redis.start()
    metrics = live.get("metrics").text
    assert 'tailor_profile_reads_total{outcome="failed"}' in metrics
