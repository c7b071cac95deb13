"""The Recommender over real HTTP: `bentoml serve serving.service:Recommender` in a subprocess on a
trained bundle in a temporary BentoML store (fixture `server` in conftest.py)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from serving_support import VERSION_1

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def customer(trained) -> str:
    """A customer with a history who consents."""
    index = trained.bundle.model.index
    return next(u for u in index.user_ids.tolist()
                if index.history[index.user_index[u]].nnz and u != trained.opted_out)


def item_ids(answer: dict) -> list[str]:
    return [i["item_id"] for i in answer["items"]]


def assert_bad_request(response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert [d["loc"] for d in body["detail"]] == [[field] if field else []], body


def test_probes_answer_once_the_model_is_loaded(server):
    assert server.get("healthz").status_code == 200
    assert server.get("readyz").status_code == 200


def test_recommend_personalizes_for_a_consenting_customer(server, customer):
    response = server.post("recommend", {"user_id": customer, "placement": "homepage", "k": 7})
    assert response.status_code == 200
    answer = response.json()
    assert answer["model_version"] == VERSION_1
    assert (answer["personalized"], answer["fallback_reason"]) == (True, None)
    assert answer["placement"] == "homepage"
    assert len(answer["items"]) == 7
    assert set(answer["items"][0]) == {"item_id", "title", "score", "source", "reason",
                                       "category"}
    assert {i["source"] for i in answer["items"]} - {"trending", "segment"}  # model sources too
    assert uuid.UUID(answer["request_id"]).version == 4
    assert response.headers["x-request-id"] == answer["request_id"]


def test_request_id_comes_from_the_body_else_the_header(server, customer):
    by_header = server.post("recommend", {"user_id": customer},
                            headers={"X-Request-ID": "from-header"})
    by_body = server.post("recommend", {"user_id": customer, "request_id": "from-body"},
                          headers={"X-Request-ID": "from-header"})
    assert by_header.json()["request_id"] == "from-header"
    assert by_header.headers["x-request-id"] == "from-header"
    assert by_body.json()["request_id"] == "from-body"


def test_every_placement_answers(server, customer):
    for placement in ("homepage", "product_page", "cart", "email"):
        answer = server.post("recommend", {"user_id": customer, "placement": placement,
                                           "k": 3}).json()
        assert answer["placement"] == placement and len(answer["items"]) == 3


def test_unknown_and_non_consenting_users_fall_back(server, trained):
    unknown = server.post("recommend", {"user_id": "u-never-seen", "k": 5}).json()
    refused = server.post("recommend", {"user_id": trained.opted_out, "k": 5}).json()
    popular = server.post("popular", {"k": 5}).json()
    assert (unknown["personalized"], unknown["fallback_reason"]) == (False, "unknown_user")
    assert (refused["personalized"], refused["fallback_reason"]) == (False, "no_consent")
    assert item_ids(unknown) == item_ids(refused) == item_ids(popular)


def test_similar_items_cross_sell_homepage_and_popular(server, customer):
    seed = item_ids(server.post("popular", {"k": 1}).json())[0]
    similar = server.post("similar_items", {"item_id": seed, "k": 4}).json()
    assert len(similar["items"]) == 4 and seed not in item_ids(similar)
    assert similar["items"][0]["reason"] == f"similar to {seed}"
    assert similar["personalized"] is False

    cross = server.post("cross_sell", {"cart_item_ids": [seed], "k": 4}).json()
    assert len(cross["items"]) == 4 and seed not in item_ids(cross)
    assert cross["items"][0]["reason"] == f"bought together with {seed}"

    home = server.post("homepage", {"user_id": customer, "k": 3}).json()
    ids = [c["id"] for c in home["carousels"]]
    assert ids[0] == "picked_for_you" and ids[1].startswith("because_you_viewed_i")
    assert ids[2].startswith("top_in_") and home["personalized"] is True
    assert all(len(c["items"]) == 3 for c in home["carousels"])

    category = server.post("popular", {"k": 3, "category": "pets"}).json()
    assert {i["category"] for i in category["items"]} == {"pets"}
    segment = server.post("popular", {"k": 3, "segment": "loyal"}).json()
    assert segment["items"][0]["reason"] == "popular with loyal customers"


@pytest.mark.parametrize(("body", "field"), [
    ({"user_id": "u000001", "k": 0}, "k"),
    ({"user_id": "u000001", "k": 1_000_000}, "k"),
    ({"user_id": "u000001", "k": -5}, "k"),
    ({"user_id": "u000001", "k": "ten"}, "k"),
    ({"k": 3}, "user_id"),
    ({"user_id": 12}, "user_id"),
    ({"user_id": ""}, "user_id"),
    ({"user_id": "u000001", "placement": "moon"}, "placement"),
    ({"user_id": "u000001", "surprise": 1}, "surprise"),
    ({"user_id": "u000001", "exclude_item_ids": "i00001"}, "exclude_item_ids"),
])
def test_bad_recommend_requests_are_400s_naming_the_field(server, body, field):
    assert_bad_request(server.post("recommend", body), field)


def test_malformed_json_is_a_400_and_the_service_stays_up(server, customer):
    for raw in (b'{"user_id": "u000001",', b"not json", b"[1, 2]"):
        response = server.post("recommend", content=raw,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["detail"][0]["loc"] == []
    assert_bad_request(server.post("cross_sell", {"cart_item_ids": []}), "cart_item_ids")
    assert_bad_request(server.post("homepage", {"user_id": "u1", "k": 51}), "k")
    assert_bad_request(server.post("similar_items", {"k": 2}), "item_id")
    assert server.get("healthz").status_code == 200
    assert server.post("recommend", {"user_id": customer}).status_code == 200


def test_unknown_ids_to_look_up_are_404s_and_to_filter_by_are_reported(server, customer):
    missing = server.post("similar_items", {"item_id": "i99999"})
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"] == ["item_id"]
    assert server.post("popular", {"category": "moon"}).json()["detail"][0]["loc"] == [
        "category"]
    answer = server.post("recommend", {
        "user_id": customer, "placement": "cart", "k": 5,
        "context": {"cart_item_ids": ["i99998"], "viewed_item_ids": ["i00001"]},
        "exclude_item_ids": ["zzz"]})
    assert answer.status_code == 200
    assert answer.json()["unknown_item_ids"] == ["i99998", "zzz"]
    assert "i00001" not in item_ids(answer.json())
    cross = server.post("cross_sell", {"cart_item_ids": ["nope"], "k": 3}).json()
    assert cross["unknown_item_ids"] == ["nope"] and len(cross["items"]) == 3


def test_repeated_requests_are_served_from_the_cache(server, customer):
    body = {"user_id": customer, "k": 9, "placement": "email"}
    first, second = server.post("recommend", body).json(), server.post("recommend", body).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert item_ids(first) == item_ids(second)
    assert first["request_id"] != second["request_id"]


def test_metrics_count_fallbacks_and_cache_hits(server, customer):
    server.post("recommend", {"user_id": "u-metrics", "k": 2})
    body = {"user_id": customer, "k": 2}
    server.post("recommend", body)
    server.post("recommend", body)
    metrics = server.get("metrics").text

    def value(name: str, labels: str) -> float:
        match = re.search(rf"^{name}\{{{labels}\}} ([0-9.e+]+)$", metrics, re.MULTILINE)
        assert match, f"{name}{{{labels}}} not in /metrics"
        return float(match.group(1))

    assert value("tailor_fallbacks_total", 'endpoint="recommend",reason="unknown_user"') >= 1
    assert value("tailor_cache_hits_total", 'endpoint="recommend"') >= 1
    assert value("tailor_cache_misses_total", 'endpoint="recommend"') >= 1


def test_logs_are_json_lines_without_user_ids(server, trained, customer):
    server.post("recommend", {"user_id": customer, "request_id": "log-check"})
    server.post("recommend", {"user_id": trained.opted_out, "k": "bad"})  # a logged 400
    logs = server.logs()
    assert customer not in logs and trained.opted_out not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    answers = [line for line in lines if line["event"] == "answer"]
    mine = [line for line in answers if line["request_id"] == "log-check"]
    assert len(mine) == 1 and re.fullmatch(r"[0-9a-f]{16}", mine[0]["user"])
    assert "invalid request /recommend: fields ['k']" in logs


def test_openapi_documents_every_endpoint_with_its_schema(server):
    spec = server.get("docs.json").json()
    for endpoint in ("recommend", "similar_items", "cross_sell", "homepage", "popular", "reload"):
        assert f"/{endpoint}" in spec["paths"], endpoint
    schemas = json.dumps(spec["components"]["schemas"])
    for field in ("user_id", "placement", "exclude_item_ids", "cart_item_ids", "fallback_reason",
                  "unknown_item_ids", "model_version"):
        assert field in schemas, field
