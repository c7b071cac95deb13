"""The exposure log (serving/stream/exposures.py) on a real Redis: records reach the stream in
batches off the caller's path, each once; while Redis is down they wait and are sent after it
comes back; past MAX_QUEUED the oldest are dropped and counted; the stream workers acknowledge
exposures without touching a profile."""

from __future__ import annotations

import time

import pytest

from serving.stream import exposures as module
from serving.stream.exposures import ExposureLog, exposure_record
from serving.stream.redis_stream import FIELD, STREAM, RedisEventStream, connect

pytestmark = pytest.mark.integration


class Counter:
    def __init__(self):
        self.counts = {}

    def labels(self, outcome):
        self._outcome = outcome
        return self

    def inc(self, amount=1):
        self.counts[self._outcome] = self.counts.get(self._outcome, 0) + amount


def record(n: int) -> dict:
    return exposure_record(experiment="e", variant="control", unit=f"anon:v{n}", user_id=None,
                           anonymous_id=f"v{n}", placement="homepage", endpoint="homepage",
                           request_id=f"r{n}", model_version="m", personalized=False,
                           excluded=None, item_ids=["i1"])


def stored(client) -> list[str]:
    import json

    return [json.loads(fields[FIELD])["request_id"] for _, fields in client.xrange(STREAM)]


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_exposures_reach_the_stream_once_and_wait_out_an_outage(redis_server):
    client = connect(redis_server.url)
    counter = Counter()
    log = ExposureLog(RedisEventStream(client), counter)
    started = time.perf_counter()
    for n in range(10):
        log.put(record(n))
    assert time.perf_counter() - started < 0.05  # the caller never waits for Redis
    wait_for(lambda: len(stored(client)) == 10)
    redis_server.kill()
    for n in range(10, 20):
        log.put(record(n))
    time.sleep(1.5)  # at least one failed publish
    assert log.queued == 10
    redis_server.start()
    wait_for(lambda: log.queued == 0)
    log.close()
    assert stored(connect(redis_server.url)) == [f"r{n}" for n in range(20)]
    assert counter.counts == {"published": 20}


def test_past_the_cap_the_oldest_are_dropped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "MAX_QUEUED", 5)
    counter = Counter()
    nowhere = RedisEventStream(connect(f"unix://{tmp_path / 'none.sock'}"))
    log = ExposureLog(nowhere, counter)
    for n in range(8):
        log.put(record(n))
    assert log.queued == 5 and counter.counts["dropped"] == 3
    log.close(timeout_s=2)


def test_stream_workers_acknowledge_exposures_without_a_profile(redis_server):
    from ml.online.profile_rules import ProfileRules
    from serving.stream.profiles import ProfileStore
    from serving.stream.worker import StreamWorker, WorkerSettings

    client = connect(redis_server.url)
    stream = RedisEventStream(client)
    stream.publish([record(1), record(2)])
    rules = ProfileRules(lambda _: None, {}, 1.0)
    worker = StreamWorker(stream, ProfileStore(client), rules, client,
                          WorkerSettings(consumer="w", block_ms=100))
    assert worker.step() == 2
    profiles = {g.name: g for g in stream.stats().groups}["profiles"]
    assert profiles.pending == 0 and profiles.lag == 0
    assert worker.progress.applied == 0 and not client.keys("tailor:profile:*")
