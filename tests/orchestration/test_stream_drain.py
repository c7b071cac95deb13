"""Live events into the warehouse: what the service accepted drains from the real event stream
into raw_events through raw_shop_data (source stream), through the contract's validation and
quarantine, each event once however often it is delivered or drained."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import pytest

from ml.schema import GUEST_PREFIX
from orchestration.defs.sensors import DRAIN_CONFIG, drain_request
from orchestration.lib.env import TailorHome
from orchestration.lib.runner import materialization, run_pipeline
from orchestration.lib.stream import EventStreamResource
from orchestration.lib.warehouse import DuckDBWarehouse
from serving.stream.intake import EventIntake
from serving.stream.profiles import ProfileStore
from serving.stream.redis_stream import RedisEventStream, connect

pytestmark = pytest.mark.integration
DRAIN = DRAIN_CONFIG["ops"]["raw_shop_data"]["config"]


def live(event_id, user, item, minutes_ago=5, **fields):
    at = datetime.utcnow() - timedelta(minutes=minutes_ago)
    return {"event_id": event_id, "user_id": user, "session_id": "s-live", "item_id": item,
            "event_type": "view", "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}


def test_accepted_events_drain_into_raw_events_once(tmp_path, redis_server, monkeypatch):
    monkeypatch.setenv("TAILOR_REDIS_URL", redis_server.url)
    home = TailorHome(tmp_path / "home")
    assert run_pipeline(home, {"source": "synthetic"}, job_name="ingest_tailor_job").success
    warehouse = DuckDBWarehouse(path=str(home.warehouse))
    stored = warehouse.query("select * from raw.events limit 1").iloc[0]
    before = warehouse.row_counts()["raw.events"]
    client = connect(redis_server.url)
    stream = RedisEventStream(client)
    intake = EventIntake(stream, ProfileStore(client))
    batch = [live("L1", stored["user_id"], stored["item_id"]),
             live("L2", None, stored["item_id"], anonymous_id="visitor-9"),
             live("L3", stored["user_id"], "not-in-the-catalog-yet", event_type="add_to_cart",
                  quantity=2),
             {**live(stored["event_id"], stored["user_id"], stored["item_id"])}]  # stored before
    assert intake.accept(batch, known_item=lambda _: True).accepted == [
        "L1", "L2", "L3", stored["event_id"]]
    intake.accept([batch[0]], known_item=lambda _: True)  # the shop retried L1
    stream.publish([{**live("L4", "u-x", stored["item_id"]), "occurred_at": "soon"}])  # bypass
    assert EventStreamResource(url=redis_server.url).waiting() == 6

    result = run_pipeline(home, DRAIN, job_name="ingest_tailor_job")
    assert result.success
    events = warehouse.query("select * from raw.events where event_id like 'L%' order by 1")
    assert events["event_id"].tolist() == ["L1", "L2", "L3"]
    assert events["user_id"].tolist()[1] == GUEST_PREFIX + "visitor-9"
    assert events["quantity"].tolist()[2] == 2
    assert warehouse.row_counts()["raw.events"] == before + 3
    quarantine = warehouse.query("select reason, record from raw.quarantine "
                                 "where record like '%L4%'")
    assert quarantine["reason"].tolist() == ["unparsable_timestamp"]
    meta = materialization(result, "raw_load_info")
    assert "6 stream entries" in meta["batch"] and "2 redelivered" in meta["batch"]
    assert EventStreamResource(url=redis_server.url).waiting() == 0

    again = run_pipeline(home, DRAIN, job_name="ingest_tailor_job")  # nothing new: no change
    assert again.success and warehouse.row_counts()["raw.events"] == before + 3


def test_the_drain_sensor_asks_for_a_run_only_when_events_wait_and_none_is_going():
    assert isinstance(drain_request(0, False), dg.SkipReason)
    assert isinstance(drain_request(5, True), dg.SkipReason)
    request = drain_request(5, False)
    assert request.run_config == DRAIN_CONFIG and request.tags["tailor/waiting"] == "5"


def test_without_a_stream_nothing_waits(tmp_path):
    assert EventStreamResource(url=f"unix://{tmp_path / 'none.sock'}").waiting() == 0


def test_exposures_drain_into_raw_exposures_once_and_malformed_ones_are_quarantined(
        tmp_path, redis_server, monkeypatch):
    from serving.stream.exposures import exposure_record

    monkeypatch.setenv("TAILOR_REDIS_URL", redis_server.url)
    home = TailorHome(tmp_path / "home")
    assert run_pipeline(home, {"source": "synthetic"}, job_name="ingest_tailor_job").success
    stream = RedisEventStream(connect(redis_server.url))
    shown = exposure_record(experiment="e1", variant="treatment", unit="anon:v1", user_id=None,
                            anonymous_id="v1", placement="homepage", endpoint="homepage",
                            request_id="r1", model_version="m1", personalized=True,
                            excluded=None, item_ids=["i1", "i2"])
    broken = {**shown, "event_id": "x-broken", "unit": None}
    stream.publish([shown, shown, broken])  # the first one delivered twice
    result = run_pipeline(home, DRAIN, job_name="ingest_tailor_job")
    assert result.success
    warehouse = DuckDBWarehouse(path=str(home.warehouse))
    stored = warehouse.query("select * from raw.exposures")
    assert stored["request_id"].tolist() == ["r1"]
    assert stored["user_id"].tolist() == [GUEST_PREFIX + "v1"]
    assert stored["item_ids"].tolist() == ['["i1", "i2"]']
    quarantined = warehouse.query("select reason, detail from raw.quarantine "
                                  "where table_name = 'exposures'")
    assert quarantined.values.tolist() == [["missing_id", "exposure: missing unit"]]
    assert materialization(result, "raw_exposures")["dagster/row_count"] == 1
    stream.publish([shown])  # delivered again in a later run: still once
    assert run_pipeline(home, DRAIN, job_name="ingest_tailor_job").success
    assert warehouse.row_counts()["raw.exposures"] == 1
