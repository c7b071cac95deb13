"""The event stream as the pipeline sees it: the `warehouse` consumer group of the service's
stream (serving/stream/), read by `raw_shop_data` with source `stream` and watched by
`stream_drain_sensor`. Nothing here starts Redis: the service and workers do."""

from __future__ import annotations

import dagster as dg

from serving.stream.redis_stream import WAREHOUSE_GROUP


class EventStreamResource(dg.ConfigurableResource):
    """`url`: the Redis of the event stream (TAILOR_REDIS_URL, else the home's local one)."""

    url: str
    consumer: str = "drain"
    claim_idle_ms: int = 60_000  # a drain run that died left entries pending this long

    def _stream(self):
        from serving.stream.redis_stream import RedisEventStream, connect

        return RedisEventStream(connect(self.url))

    def take(self, limit: int) -> tuple[list[str], list[dict]]:
        """Up to `limit` entries not yet in the warehouse: those an earlier drain left pending
        first, then new ones. (entry ids, events); acknowledge them with `done` once written."""
        stream = self._stream()
        entries = stream.claim_stale(WAREHOUSE_GROUP, self.consumer, self.claim_idle_ms, limit)
        if len(entries) < limit:
            entries += stream.read(WAREHOUSE_GROUP, self.consumer, limit - len(entries), None)
        usable = [e for e in entries if e.problem is None]
        for entry in entries:
            if entry.problem is not None:  # written around the intake: keep it, out of the way
                stream.dead_letter(WAREHOUSE_GROUP, entry, entry.problem)
        return [e.id for e in usable], [e.event for e in usable]

    def done(self, ids: list[str]) -> None:
        self._stream().ack(WAREHOUSE_GROUP, ids)

    def waiting(self) -> int:
        """Entries the warehouse has not acknowledged yet (undelivered + pending); 0 when the
        stream is not there."""
        import redis

        try:
            stats = self._stream().stats()
        except (redis.ConnectionError, redis.TimeoutError):
            return 0
        group = next((g for g in stats.groups if g.name == WAREHOUSE_GROUP), None)
        return 0 if group is None else group.lag + group.pending
