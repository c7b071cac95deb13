"""POST /events over real HTTP into a real Redis, and `tailor stream-worker` applying them:
validation per event, durability before the 2xx, unknown items kept and marked, read-your-writes,
503 while the stream is down, and the stream's gauges in /metrics."""

from __future__ import annotations

import re
import time

import pytest
from serving_support import run_worker_until_applied, serve_with_stream, stop_server

from ml.online.profile_rules import rules_for
from orchestration.lib.seeds import event_type_weights
from serving.stream.profiles import ProfileStore
from serving.stream.redis_stream import RedisEventStream, connect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(trained, tmp_path_factory, stream_redis):
    running = serve_with_stream(trained, tmp_path_factory, stream_redis)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def known(trained):
    index = trained.bundle.model.index
    customer = next(u for u in index.user_ids.tolist() if index.history[index.user_index[u]].nnz)
    return customer, index.catalog.item_ids[:3].tolist()


def event(event_id, user, item, kind="view", **fields):
    return {"event_id": event_id, "user_id": user, "session_id": "s-1", "item_id": item,
            "event_type": kind, "occurred_at": "2026-11-30T12:00:00Z", **fields}


def test_valid_events_are_durable_when_the_answer_comes_and_bad_ones_are_named(
        live, stream_redis, known):
    customer, items = known
    body = {"events": [event("h1", customer, items[0]),
                       event("h2", customer, items[1], "explode"),
                       event("h3", customer, "brand-new-item", "add_to_cart", quantity=2),
                       event("h4", None, items[2], anonymous_id="visitor-1"),
                       event("h5", customer, items[0], price="free"),
                       42]}
    response = live.post("events", body, headers={"X-Request-ID": "batch-1"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["request_id"] == "batch-1" == response.headers["x-request-id"]
    assert answer["accepted"] == ["h1", "h3", "h4"]
    assert [(r["index"], r["event_id"], r["field"], r["reason"]) for r in answer["rejected"]] == [
        (1, "h2", "event_type", "unknown_event_type"), (4, "h5", "price", "invalid_number"),
        (5, None, "event", "invalid_event")]
    assert answer["unknown_item_ids"] == ["brand-new-item"]
    stream = RedisEventStream(connect(stream_redis.url))
    entries = stream.read("warehouse", "test", 10, 100)
    assert [e.event["event_id"] for e in entries] == ["h1", "h3", "h4"]
    assert [e.event["known_item"] for e in entries] == [True, False, True]
    assert entries[1].event["quantity"] == 2 and entries[1].event["event_type"] == "add_to_cart"


@pytest.mark.parametrize("body,field", [({"events": []}, "events"), ({}, "events"),
                                        ({"events": "h1"}, "events"),
                                        ({"events": [{}], "extra": 1}, "extra")])
def test_a_body_without_a_usable_events_list_is_a_400_naming_the_field(live, body, field):
    response = live.post("events", body)
    assert response.status_code == 400, response.text
    assert [field] in [d["loc"] for d in response.json()["detail"]]


def test_a_stream_worker_applies_what_the_service_accepted_once(live, stream_redis, known,
                                                                tmp_path):
    customer, items = known
    store = ProfileStore(connect(stream_redis.url))
    rules = rules_for(None, {}, event_type_weights())
    body = {"events": [event(f"w{n}", customer, items[n % 3], "purchase" if n == 5 else "view")
                       for n in range(6)]}
    assert live.post("events", body).json()["accepted"] == [f"w{n}" for n in range(6)]
    assert live.post("events", body).status_code == 200  # a retry: the same ids again
    before = store.current(rules, customer)  # no worker ran yet: the inbox answers
    assert before.counts["purchase"] == 1 and before.events >= 6
    status, output = run_worker_until_applied(stream_redis.url, tmp_path / "home", "cli-1")
    assert status == 0, output
    after = store.current(rules, customer)
    assert after.counts == before.counts and after.events == before.events
    assert "repeated 6" in output  # the retried batch was applied once


def test_events_answer_503_while_redis_is_down_and_work_again_after(live, stream_redis, known):
    customer, items = known
    stream_redis.kill()
    try:
        response = live.post("events", {"events": [event("d1", customer, items[0])]})
        assert response.status_code == 503, response.text
        assert response.json()["detail"][0]["loc"] == ["events"]
    finally:
        stream_redis.start()
    response = live.post("events", {"events": [event("d1", customer, items[0])]})
    assert response.status_code == 200 and response.json()["accepted"] == ["d1"]


def test_metrics_show_the_stream(live):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = live.get("metrics").text
        if 'tailor_stream_pending{group="profiles"}' in text:  # observed, not just declared
            break
        time.sleep(0.5)
    assert 'tailor_stream_pending{group="profiles"}' in text
    assert re.search(r"^tailor_stream_length \d", text, re.M)
    assert re.search(r"^tailor_dead_letters_total 0", text, re.M)


def test_without_a_configured_stream_events_are_refused_with_503(server, known):
    customer, items = known
    response = server.post("events", {"events": [event("n1", customer, items[0])]})
    assert response.status_code == 503
    assert "TAILOR_REDIS_URL" in response.json()["error"]


def test_a_model_s_card_carries_its_weights_and_a_card_without_them_is_refused():
    seed = event_type_weights()
    assert seed["purchase"] > seed["view"] > 0
    assert rules_for({"event_weights": {"view": 2.0}}, {}, seed).weights == {"view": 2.0}
    assert rules_for(None, {}, seed).weights == seed  # no model promoted yet: the seed's
    with pytest.raises(ValueError, match="event_weights"):
        rules_for({}, {})
