"""The event stream, online profiles and the stream worker over a real redis-server: delivery,
acknowledgement, claims after a dead consumer, dead letters, trimming, idempotency, stitching and
read-your-writes."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from ml.online.profile_rules import ProfileRules
from orchestration.lib.seeds import event_type_weights
from serving.stream.profiles import ProfileStore
from serving.stream.redis_stream import DEAD_LETTERS, RedisEventStream, connect
from serving.stream.worker import GROUP, StreamWorker, WorkerSettings

CATEGORY = {"shoe-1": "shoes", "shoe-2": "shoes", "hat-1": "hats"}
RULES = ProfileRules(CATEGORY.get, event_type_weights(), 30 * 86_400.0)


def event(n, user="u1", item="shoe-1", kind="view", anonymous=None, minute=0):
    return {"event_id": f"e{n}", "user_id": user, "anonymous_id": anonymous, "session_id": "s1",
            "item_id": item, "event_type": kind,
            "occurred_at": f"2026-11-30T12:{minute:02d}:00.000000Z"}


@pytest.fixture
def client(redis_server):
    return connect(redis_server.url)


@pytest.fixture
def stream(client):
    return RedisEventStream(client)


@pytest.fixture
def profiles(client):
    return ProfileStore(client)


def worker(stream, profiles, client, name="w1", **settings):
    return StreamWorker(stream, profiles, RULES, client,
                        WorkerSettings(consumer=name, block_ms=10, **settings))


def accept(profiles, stream, events):
    """What POST /events does with valid events: inbox first, then the stream."""
    profiles.add_to_inboxes(events)
    return stream.publish(events)


def test_every_group_reads_every_entry_once_until_it_acknowledges(stream):
    ids = stream.publish([event(1), event(2)])
    first = stream.read(GROUP, "a", 10, 10)
    assert [e.id for e in first] == ids and first[0].event == event(1)
    assert stream.read(GROUP, "b", 10, 10) == []  # delivered to a, not again to the group
    assert [e.id for e in stream.read("warehouse", "d", 10, 10)] == ids  # another group: all
    stats = {g.name: g for g in stream.stats().groups}
    assert (stats[GROUP].pending, stats["warehouse"].pending, stream.stats().length) == (2, 2, 2)
    stream.ack(GROUP, ids)
    assert {g.name: g.pending for g in stream.stats().groups}[GROUP] == 0


def test_entries_of_a_dead_consumer_are_claimed_with_their_delivery_count(stream):
    ids = stream.publish([event(1), event(2)])
    stream.read(GROUP, "dead", 10, 10)  # read, never acknowledged
    assert stream.claim_stale(GROUP, "alive", 60_000, 10) == []  # not idle long enough
    claimed = stream.claim_stale(GROUP, "alive", 0, 10)
    assert [(e.id, e.deliveries) for e in claimed] == [(ids[0], 2), (ids[1], 2)]


def test_trimming_keeps_what_any_group_has_not_acknowledged(stream):
    ids = stream.publish([event(n) for n in range(5)])
    for e in stream.read(GROUP, "a", 10, 10):
        stream.ack(GROUP, [e.id])
    assert stream.trim_acked() == 0  # the warehouse has not read any of them
    stream.read("warehouse", "d", 3, 10)
    stream.ack("warehouse", ids[:1])  # 1 acknowledged, 2 pending, 2 not delivered
    assert stream.trim_acked() == 1
    assert [e.id for e in stream.claim_stale("warehouse", "d", 0, 10)] == ids[1:3]
    assert [e.id for e in stream.read("warehouse", "d", 10, 10)] == ids[3:]
    stream.ack("warehouse", ids[1:])
    assert stream.trim_acked() == 4 and stream.stats().length == 0


def test_the_worker_applies_each_event_once_however_often_it_is_delivered(stream, profiles,
                                                                          client):
    events = [event(n, item=item) for n, item in enumerate(["shoe-1", "shoe-2", "hat-1"])]
    accept(profiles, stream, events)
    stream.read(GROUP, "dead", 10, 10)  # a worker that died after reading them
    profiles.apply(events[:2], RULES)  # ... or after applying two of them, before acknowledging
    survivor = worker(stream, profiles, client, claim_idle_ms=0)
    survivor.step()
    accept(profiles, stream, [events[1]])  # the shop posts one again
    survivor.step()
    profile = profiles.current(RULES, "u1")
    assert profile.events == 3 and profile.counts == {"view": 3}
    assert profile.affinity == pytest.approx({"shoes": 2.0, "hats": 1.0})
    assert {g.name: g.pending for g in stream.stats().groups}[GROUP] == 0
    assert client.llen("tailor:inbox:user:u1") == 0


def test_an_event_that_keeps_failing_goes_to_the_dead_letters_with_its_error(stream, profiles,
                                                                             client):
    bad = {**event(9), "occurred_at": "not a time"}  # published around the intake's check
    stream.publish([event(1), bad, event(2)])
    w = worker(stream, profiles, client, claim_idle_ms=0, max_deliveries=2)
    for _ in range(4):
        w.step()
    assert profiles.current(RULES, "u1").events == 2  # its neighbours were applied at once
    [dead] = stream.dead_letters()
    assert dead["event"] == bad and dead["group"] == GROUP and dead["deliveries"] == 3
    assert "ValueError" in dead["error"] and "not a time" in dead["error"]
    assert stream.stats().dead_letters == 1 == client.xlen(DEAD_LETTERS)
    assert {g.name: g.pending for g in stream.stats().groups}[GROUP] == 0


def test_a_profile_reflects_an_accepted_event_before_any_worker_ran(stream, profiles, client):
    accept(profiles, stream, [event(1), event(2, item="hat-1", kind="purchase", minute=1)])
    before = profiles.current(RULES, "u1")
    assert before.events == 2 and before.recent_items() == ["hat-1", "shoe-1"]
    worker(stream, profiles, client).step()
    after = profiles.current(RULES, "u1")
    assert after == before  # applied now, and not counted twice
    assert profiles.current(RULES, "nobody") is None


def test_a_visitor_is_stitched_to_the_customer_when_an_event_names_both(stream, profiles,
                                                                        client):
    w = worker(stream, profiles, client)
    accept(profiles, stream, [event(1, user=None, anonymous="v1", item="hat-1")])
    w.step()
    assert profiles.current(RULES, None, "v1").key == "anon:v1"
    accept(profiles, stream, [event(2, user="u7", anonymous="v1", item="shoe-1", minute=5)])
    w.step()
    accept(profiles, stream, [event(3, user=None, anonymous="v1", item="shoe-2", minute=9)])
    assert profiles.current(RULES, None, "v1").events == 3  # read your write, through the stitch
    w.step()
    customer = profiles.current(RULES, "u7")
    assert customer.events == 3 and customer.stitched == ("anon:v1",)
    assert customer.recent_items() == ["shoe-2", "shoe-1", "hat-1"]
    assert client.get("tailor:profile:anon:v1") is None


def test_the_profiles_of_a_batch_of_requests_are_read_together(stream, profiles, client):
    """What one micro-batch of answers reads: customers, visitors, a visitor stitched to a
    customer, nobody, each with what is applied and what waits in an inbox."""
    w = worker(stream, profiles, client)
    accept(profiles, stream, [event(1, user="u1"), event(2, user=None, anonymous="v2"),
                              event(3, user="u3", anonymous="v3")])
    w.step()
    accept(profiles, stream, [event(4, user="u1", item="hat-1", minute=3)])  # waits in the inbox
    found = profiles.current_many(RULES, [("u1", None), (None, "v2"), (None, "v3"),
                                          ("nobody", None), (None, None), ("u1", "v2")])
    assert [p.key if p else None for p in found] == [
        "user:u1", "anon:v2", "user:u3", None, None, "user:u1"]
    assert found[0].events == 2 and found[0].recent_items() == ["hat-1", "shoe-1"]
    assert found[2].events == 1  # v3 is u3 since event 3 named both


def test_two_workers_on_one_customer_lose_no_update(redis_server, stream, profiles):
    accept(profiles, stream, [event(n, item="shoe-1" if n % 2 else "hat-1") for n in range(400)])
    stop = threading.Event()
    workers = []
    for name in ("w1", "w2"):  # each with its own connection, as two processes would be
        client = connect(redis_server.url)
        workers.append(worker(RedisEventStream(client), ProfileStore(client), client,
                              name=name, batch=7))
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while (group := {g.name: g for g in stream.stats().groups}[GROUP]).lag or group.pending:
        assert time.monotonic() < deadline
        stop.wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert profiles.current(RULES, "u1").events == 400
    assert sum(w.progress.applied for w in workers) == 400
    assert all(w.progress.applied for w in workers)  # both took part


def test_accepted_events_survive_kill_9_of_redis(redis_server, stream, client):
    ids = stream.publish([event(n) for n in range(100)])
    redis_server.kill()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_server.start()
    again = RedisEventStream(connect(redis_server.url))
    assert [e.id for e in again.read(GROUP, "a", 200, 10)] == ids
    assert again.durability() == {"appendonly": "yes", "appendfsync": "always"}


def test_status_reports_the_stream_without_starting_one(redis_server, stream, monkeypatch,
                                                        tmp_path):
    from orchestration.cli.status import stream_status
    from orchestration.lib.env import TailorHome

    home = TailorHome(tmp_path / "home")
    monkeypatch.delenv("TAILOR_REDIS_URL", raising=False)
    assert stream_status(home) == {"running": False, "where": "this home's local Redis",
                                   "error": "ConnectionError"}
    assert not (tmp_path / "home" / "redis").exists()
    stream.publish([event(1)])
    monkeypatch.setenv("TAILOR_REDIS_URL", redis_server.url)
    status = stream_status(home)
    assert status["length"] == 1 and status["groups"]["profiles"]["lag"] == 1
    assert status["durability"] == {"appendonly": "yes", "appendfsync": "always"}


def test_a_home_s_local_redis_is_stopped_by_the_command_that_started_it(tmp_path, monkeypatch):
    from serving.stream.local_redis import local_url, redis_for

    monkeypatch.delenv("TAILOR_REDIS_URL", raising=False)
    home = tmp_path / "h"
    with redis_for(home) as url:
        assert url == local_url(home) and connect(url).ping()
        with redis_for(home) as again:  # a second command on the same home shares it
            connect(again).set("k", "v")
        assert connect(url).get("k") == "v"  # ... and leaves it running
    with pytest.raises(redis.ConnectionError):
        connect(url).ping()
    with redis_for(home) as url:  # started again: the append-only file kept what was written
        assert connect(url).get("k") == "v"
    monkeypatch.setenv("TAILOR_REDIS_URL", "redis://elsewhere:6379/0")
    with redis_for(home) as url:
        assert url == "redis://elsewhere:6379/0"


def test_an_entry_that_is_no_event_goes_to_the_dead_letters_and_blocks_nothing(stream, profiles,
                                                                              client):
    stream.publish([event(1)])
    client.xadd("tailor:events", {"junk": "1"})  # written around the intake
    client.xadd("tailor:events", {"e": "{not json"})
    stream.publish([event(2)])
    w = worker(stream, profiles, client)
    w.step()
    assert profiles.current(RULES, "u1").events == 2 and w.progress.dead == 2
    assert sorted(d["error"].split(":")[1].strip() for d in stream.dead_letters()) == [
        "JSONDecodeError", "KeyError"]


def test_trimming_is_safe_when_pending_entries_are_acknowledged_while_it_looks(redis_server):
    class AckingMeanwhile(redis.Redis):
        """Another worker acknowledges the pending entries between XINFO and XPENDING."""

        def xinfo_groups(self, name):
            infos = super().xinfo_groups(name)
            for entry_id, _ in self.xrange(name):
                self.xack(name, GROUP, entry_id)
            return infos

    plain = connect(redis_server.url)
    stream = RedisEventStream(plain)
    ids = stream.publish([event(n) for n in range(10)])
    stream.read(GROUP, "a", 2, 10)  # 2 pending, 8 never delivered to the workers
    stream.read("warehouse", "d", 10, 10)
    stream.ack("warehouse", ids)
    racing = RedisEventStream(AckingMeanwhile.from_url(redis_server.url, decode_responses=True))
    assert racing.trim_acked() == 2  # only what both groups acknowledged
    assert [e.id for e in stream.read(GROUP, "a", 20, 10)] == ids[2:]


def test_events_the_stream_refused_leave_no_trace_in_any_inbox(stream, profiles, client):
    from serving.stream.intake import EventIntake, StreamUnavailable

    w = worker(stream, profiles, client)
    accept(profiles, stream, [event(1, user="u7", anonymous="v1")])  # v1 is u7
    w.step()
    client.delete("tailor:events")
    client.set("tailor:events", "not a stream")  # XADD now fails
    intake = EventIntake(RedisEventStream(client), profiles)
    anonymous = {**event(2, user=None, anonymous="v1", minute=3),
                 "occurred_at": "2026-11-30T12:03:00Z"}
    with pytest.raises(StreamUnavailable):
        intake.accept([anonymous], known_item=lambda _: True)
    assert client.llen("tailor:inbox:user:u7") == 0
    assert profiles.current(RULES, "u7").events == 1


def test_a_stream_is_built_without_reaching_redis(tmp_path):
    stream = RedisEventStream(connect(f"unix://{tmp_path / 'nothing.sock'}"))
    with pytest.raises(redis.ConnectionError):
        stream.publish([event(1)])


def test_the_lag_is_right_after_redis_restarts(redis_server, stream):
    ids = stream.publish([event(n) for n in range(100)])
    stream.ack(GROUP, [e.id for e in stream.read(GROUP, "a", 50, 10)])
    redis_server.kill()
    redis_server.start()
    again = RedisEventStream(connect(redis_server.url))
    rest = again.read(GROUP, "a", 100, 10)
    assert [e.id for e in rest] == ids[50:]
    again.ack(GROUP, [e.id for e in rest])
    group = {g.name: g for g in again.stats().groups}[GROUP]
    assert (group.lag, group.pending, group.lag_seconds) == (0, 0, 0.0)
    assert {g.name: g for g in again.stats().groups}["warehouse"].lag == 100
