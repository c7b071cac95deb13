"""An experiment through the real pieces: experiments.yaml -> experiment_registry (Dagster) -> the
published file -> `bentoml serve` (2 workers) with a real Redis -> exposures in the stream ->
the warehouse drain -> experiment_report. Stickiness across workers, a restart and another
process, an anonymous visitor keeping the arm once stitched, one exposure per answer, and
outcomes attributed by request_id."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from serving_support import VERSION_1, promote, run_worker_until_applied, start_server, stop_server

from ml.experiments.analysis import visitors
from ml.experiments.assignment import Assigner
from ml.experiments.design import Definitions, Experiment, write_definitions
from orchestration.defs.sensors import DRAIN_CONFIG
from orchestration.lib.env import TailorHome
from orchestration.lib.experiments import events_since, exposures_of, recorded
from orchestration.lib.runner import run_pipeline
from orchestration.lib.stream import EventStreamResource
from orchestration.lib.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.integration
NAME = "homepage-carousel-2026-12"
DRAIN = DRAIN_CONFIG["ops"]["raw_shop_data"]["config"]


def definition() -> Experiment:
    return Experiment.model_validate({
        "name": NAME, "placement": "homepage", "salt": "http-test-salt",
        "variants": [{"name": "control", "weight": 50, "serves": "trending"},
                     {"name": "treatment", "weight": 50, "serves": "personalized"}],
        "start_at": datetime.utcnow() - timedelta(hours=1), "planned_visitors": 5})


@pytest.fixture(scope="module")
def shop(trained, tmp_path_factory, stream_redis):
    home = TailorHome(tmp_path_factory.mktemp("shop"))
    import os

    os.environ["TAILOR_REDIS_URL"] = stream_redis.url  # the drain's resource reads it
    assert run_pipeline(home, {"source": "synthetic"}, job_name="ingest_tailor_job").success
    write_definitions(home.experiments, Definitions(experiments=[definition()]))
    assert run_pipeline(home, job_name="experiment_registry_job").success
    promote(home.bentoml, trained.folder, VERSION_1)
    yield home
    os.environ.pop("TAILOR_REDIS_URL", None)


def serve(shop, stream_redis):
    return start_server(shop.root, {"TAILOR_SERVING_WORKERS": "2",
                                    "TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0",
                                    "TAILOR_REDIS_URL": stream_redis.url})


def homepage(server, **ids) -> dict:
    response = server.post("homepage", {"k": 5, **ids})
    assert response.status_code == 200, response.text
    return response.json()


def customers(trained) -> list[str]:
    index = trained.bundle.model.index
    return [u for u in index.user_ids.tolist() if index.history[index.user_index[u]].nnz
            and u != trained.opted_out]


def drain(shop, stream_redis, answers: int) -> None:
    """Wait for the service's exposures to reach the stream, then drain it into the warehouse."""
    deadline = time.monotonic() + 30
    resource = EventStreamResource(url=stream_redis.url)
    while resource.waiting() < answers:
        assert time.monotonic() < deadline, resource.waiting()
        time.sleep(0.1)
    assert run_pipeline(shop, DRAIN, job_name="ingest_tailor_job").success


def test_an_experiment_end_to_end_over_http(shop, trained, stream_redis, tmp_path):
    assigner = Assigner(recorded(DuckDBWarehouse(path=str(shop.warehouse))).named(NAME))
    people = customers(trained)[:16]
    server = serve(shop, stream_redis)
    try:
        first = {u: homepage(server, user_id=u, anonymous_id=f"dev-{u}") for u in people}
        again = {u: homepage(server, user_id=u, anonymous_id=f"dev-{u}") for u in people}
        anonymous = homepage(server, anonymous_id="visitor-to-sign-in")
        opted_out = homepage(server, user_id=trained.opted_out)
    finally:
        stop_server(server)
    for u in people:  # the hash of the unit, as this process computes it too: 2 workers agree
        assert first[u]["variant"] == again[u]["variant"] == assigner.arm(f"anon:dev-{u}")
        assert first[u]["experiment"] == NAME
        assert first[u]["personalized"] == (first[u]["variant"] == "treatment")
    assert {a["variant"] for a in first.values()} == {"control", "treatment"}
    assert opted_out["variant"] is None and opted_out["fallback_reason"] == "no_consent"

    # the visitor signs in: their event names both ids, and the customer keeps the arm
    customer = customers(trained)[20]
    response = server_after = None
    server_after = serve(shop, stream_redis)  # a restart
    try:
        sign_in = {"event_id": "x-sign-in", "user_id": customer,
                   "anonymous_id": "visitor-to-sign-in", "session_id": "s-x",
                   "item_id": trained.bundle.model.index.catalog.item_ids[0],
                   "event_type": "view", "occurred_at": (datetime.utcnow() - timedelta(
                       seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        response = server_after.post("events", {"events": [sign_in]})
        assert response.status_code == 200 and response.json()["accepted"] == ["x-sign-in"]
        status, output = run_worker_until_applied(stream_redis.url, tmp_path / "w", "exp-1")
        assert status == 0, output
        signed_in = homepage(server_after, user_id=customer)
        restarted = {u: homepage(server_after, user_id=u, anonymous_id=f"dev-{u}")
                     for u in people[:4]}
        clicked = first[people[0]]
        item = clicked["carousels"][0]["items"][0]["item_id"]
        click = {"event_id": "x-click", "user_id": people[0], "anonymous_id": f"dev-{people[0]}",
                 "session_id": "s-c", "item_id": item, "event_type": "click",
                 "request_id": clicked["request_id"], "placement": "homepage",
                 "occurred_at": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert server_after.post("events", {"events": [click]}).status_code == 200
    finally:
        stop_server(server_after)
    assert signed_in["variant"] == anonymous["variant"] == assigner.arm("anon:visitor-to-sign-in")
    for u, answer in restarted.items():
        assert answer["variant"] == first[u]["variant"]

    answers = 2 * len(people) + 2 + 1 + len(restarted)
    drain(shop, stream_redis, answers)
    warehouse = DuckDBWarehouse(path=str(shop.warehouse))
    shown = exposures_of(warehouse, NAME)
    assert len(shown) == answers  # one exposure per answer, once through the drain
    assert shown["event_id"].is_unique
    ids = {a["request_id"] for a in (*first.values(), *again.values())}
    assert ids <= set(shown["request_id"])
    row = shown[shown["request_id"] == clicked["request_id"]].iloc[0]
    assert row["unit"] == f"anon:dev-{people[0]}" and row["variant"] == clicked["variant"]
    assert json.loads(row["item_ids"]) == [i["item_id"] for c in clicked["carousels"]
                                           for i in c["items"]]
    table, left_out = visitors(definition(), shown, events_since(warehouse, datetime(2026, 1, 1)))
    assert left_out["no_consent"] == 1
    by_unit = table.set_index("unit")
    assert by_unit.loc[f"anon:dev-{people[0]}", "clicks"] == 1  # by its request_id
    assert by_unit.loc[f"anon:dev-{people[0]}", "exposures"] == 3

    # the daily report, and the governance page's link to it
    assert run_pipeline(shop, job_name="experiment_reports_job", partition_key=NAME).success
    report = json.loads((shop.reports / "experiments" / f"{NAME}.json").read_text())
    assert sum(report["visitors"].values()) == len(table)
    assert report["verdicts"]["treatment"]["decision"] in {"ship", "inconclusive", "stop"}
    assert (shop.reports / "experiments" / f"{NAME}.html").exists()
    from orchestration.cli.status import collect_status, format_state

    status = collect_status(shop)
    assert status["experiments"][NAME]["visitors"] == report["visitors"]
    assert f"Experiment {NAME} (running" in format_state(status)
