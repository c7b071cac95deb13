"""`EventStream` on Redis Streams: one stream (`tailor:events`), one consumer group per reader
(`profiles` for the stream workers, `warehouse` for the drain into raw_events), dead letters in
`tailor:events:dead`.

Each entry holds one event as compact JSON in its field `e`. Durability is the server's: a 2xx
from `POST /events` means Redis has the entry in its append-only file; with `appendfsync always`
(what `serving/stream/local_redis.py` starts) it was fsynced before Redis answered, so it survives
a crash of Redis and of the machine; with `everysec` (Redis' default), a crash of the machine may
lose the last second. `durability()` says which, and `tailor status` shows it.
"""

from __future__ import annotations

import json

import redis

from serving.stream.base import Entry, EventStream, GroupStats, StreamStats

STREAM = "tailor:events"
DEAD_LETTERS = "tailor:events:dead"
PROFILES_GROUP = "profiles"  # the stream workers (serving/stream/worker.py)
WAREHOUSE_GROUP = "warehouse"  # the drain into raw_events (orchestration/lib/stream.py)
GROUPS = (PROFILES_GROUP, WAREHOUSE_GROUP)  # every reader; trimming waits for all of them
FIELD = "e"
STATS_COUNT_LIMIT = 100_000


def connect(url: str) -> redis.Redis:
    """A client for `url` (redis://host:port/db or unix:///path/to/socket)."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=30,
                                health_check_interval=30)


def encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


def entry_time_ms(entry_id: str) -> int:
    """The broker's clock when the entry was added (a Redis stream id is `<ms>-<seq>`)."""
    return int(entry_id.split("-", 1)[0])


def next_id(entry_id: str) -> str:
    """The smallest id after `entry_id`."""
    ms, seq = entry_id.split("-", 1)
    return f"{ms}-{int(seq) + 1}"


class RedisEventStream(EventStream):
    def __init__(self, client: redis.Redis, stream: str = STREAM,
                 dead_letters: str = DEAD_LETTERS, groups: tuple[str, ...] = GROUPS) -> None:
        self.client = client  # not contacted here: a service starts while Redis is away
        self.stream = stream
        self.dead_stream = dead_letters
        self.groups = groups
        self._grouped = False

    def _ready(self) -> None:
        """The groups exist, from the first entry on: no reader misses what was published."""
        if self._grouped:
            return
        for group in self.groups:
            try:
                self.client.xgroup_create(self.stream, group, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        self._grouped = True

    @classmethod
    def from_url(cls, url: str) -> RedisEventStream:
        return cls(connect(url))

    def publish(self, events: list[dict]) -> list[str]:
        self._ready()
        pipe = self.client.pipeline(transaction=True)  # all or none of the batch
        for event in events:
            pipe.xadd(self.stream, {FIELD: encode(event)})
        return list(pipe.execute())

    def read(self, group: str, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
        if block_ms is not None and block_ms <= 0:
            raise ValueError("block_ms: > 0, or None (Redis' BLOCK 0 would wait forever)")
        self._ready()
        answer = self.client.xreadgroup(group, consumer, {self.stream: ">"}, count=count,
                                        block=block_ms)
        return [_entry(entry_id, fields) for _, entries in (answer or [])
                for entry_id, fields in entries if fields is not None]

    def ack(self, group: str, ids: list[str]) -> None:
        if ids:
            self.client.xack(self.stream, group, *ids)

    def claim_stale(self, group: str, consumer: str, min_idle_ms: int, count: int
                    ) -> list[Entry]:
        self._ready()
        _, claimed, _deleted = self.client.xautoclaim(self.stream, group, consumer, min_idle_ms,
                                                      start_id="0-0", count=count)
        claimed = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
        if not claimed:
            return []
        pending = self.client.xpending_range(self.stream, group, claimed[0][0], claimed[-1][0],
                                             len(claimed) * 2, consumername=consumer)
        deliveries = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        return [_entry(entry_id, fields, deliveries.get(entry_id, 1))
                for entry_id, fields in claimed]

    def dead_letter(self, group: str, entry: Entry, error: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        self._ready()
        pipe.xadd(self.dead_stream, {"id": entry.id, FIELD: encode(entry.event), "group": group,
                                     "error": error[:500], "deliveries": entry.deliveries})
        pipe.xack(self.stream, group, entry.id)
        pipe.execute()

    def dead_letters(self, count: int = 100) -> list[dict]:
        return [{"id": fields["id"], "event": _decode(fields), "group": fields["group"],
                 "error": fields["error"], "deliveries": int(fields["deliveries"])}
                for _, fields in self.client.xrevrange(self.dead_stream, count=count)]

    def trim_acked(self) -> int:
        """XTRIM MINID at the oldest entry some group has not acknowledged: an entry is dropped
        only when every group has acknowledged it (a plain MAXLEN would drop pending ones)."""
        self._ready()
        oldest = None
        for info in self.client.xinfo_groups(self.stream):
            if info["name"] not in self.groups:
                continue
            # Whatever is at or below the group's last delivered id and not pending any more
            # has been acknowledged (pending ones may be acknowledged between the two calls).
            keep_from = next_id(info["last-delivered-id"])
            if info["pending"]:
                keep_from = self.client.xpending(self.stream, info["name"])["min"] or keep_from
            oldest = keep_from if oldest is None else min(oldest, keep_from, key=_id_key)
        if oldest is None or oldest == "0-1":
            return 0
        return int(self.client.xtrim(self.stream, minid=oldest, approximate=False))

    def stats(self) -> StreamStats:
        """Read only: a stream nobody has published to yet has no entries and no groups."""
        now_ms = _server_time_ms(self.client)
        try:
            infos = self.client.xinfo_groups(self.stream)
        except redis.ResponseError as error:
            if "no such key" not in str(error).lower():
                raise
            infos = []
        groups = []
        for info in infos:
            name = info["name"]
            after = next_id(info["last-delivered-id"])
            first = self.client.xrange(self.stream, after, "+", count=1)  # undelivered, oldest
            oldest = self.client.xpending(self.stream, name)["min"] if info["pending"] else None
            oldest = oldest or (first[0][0] if first else None)
            # Redis' own count is missing after deletions and can be stale after a restart
            # (7.0 rebuilds it from the AOF): what is really there decides.
            lag = info.get("lag")
            if not first:
                lag = 0
            elif not lag:  # at most STATS_COUNT_LIMIT counted
                lag = len(self.client.xrange(self.stream, after, "+", count=STATS_COUNT_LIMIT))
            groups.append(GroupStats(
                name, int(info["pending"]), int(lag),
                max(0.0, (now_ms - entry_time_ms(oldest)) / 1000) if oldest else 0.0))
        return StreamStats(int(self.client.xlen(self.stream)),
                           int(self.client.xlen(self.dead_stream)), tuple(groups))

    def durability(self) -> dict:
        """The server's append-only settings, or why they cannot be read (managed Redis often
        refuses CONFIG)."""
        try:
            config = self.client.config_get("append*")
        except redis.ResponseError as error:
            return {"appendonly": "unknown", "reason": str(error)}
        return {"appendonly": config.get("appendonly"), "appendfsync": config.get("appendfsync")}


def _decode(fields: dict) -> dict:
    return json.loads(fields[FIELD])


def _entry(entry_id: str, fields: dict, deliveries: int = 1) -> Entry:
    """The entry's event, or its raw fields and why they are no event (written by something
    other than the intake): such an entry goes to the dead letters, it never blocks a worker."""
    try:
        event = _decode(fields)
        if not isinstance(event, dict):
            raise ValueError("not a JSON object")
    except (KeyError, ValueError) as error:
        return Entry(entry_id, dict(fields), deliveries,
                     problem=f"not an event: {type(error).__name__}: {error}"[:500])
    return Entry(entry_id, event, deliveries)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-", 1)
    return int(ms), int(seq)


def _server_time_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000
