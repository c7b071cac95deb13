"""The event stream as the rest of Tailor sees it: a small interface, one implementation per broker.

Delivery is at least once: a group member reads entries, processes them and acknowledges them
afterwards; an entry read but never acknowledged (its consumer died) stays pending and is claimed
by another member once it has been idle long enough. Whoever applies entries must therefore be
idempotent (profiles: by event_id, serving/stream/worker.py).

`RedisEventStream` (serving/stream/redis_stream.py) is the implementation. A Kafka one would map
publish -> produce with acks=all (the 2xx waits for the leader and its in-sync replicas), a group
-> a consumer group, ack -> committing offsets, `claim_stale` -> partition rebalancing (Kafka
reassigns a dead member's partitions itself, so it returns nothing), dead letters -> a topic of
their own, and `trim_acked` -> retention (Kafka keeps by time or size, not by acknowledgement:
retention must exceed the slowest group's lag).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id (ordered, broker-given), the event, and how often it has been
    delivered to a group member (1 on the first read)."""

    id: str
    event: dict  # for an entry that is no event (`problem`), its raw fields
    deliveries: int = 1
    problem: str | None = None  # why the entry could not be read as an event: dead-letter it


@dataclass(frozen=True)
class GroupStats:
    name: str
    pending: int  # delivered to a member, not acknowledged yet
    lag: int  # entries not delivered to any member yet
    lag_seconds: float  # age of the oldest entry this group has not acknowledged (0: none)


@dataclass(frozen=True)
class StreamStats:
    length: int
    dead_letters: int
    groups: tuple[GroupStats, ...]

    def to_dict(self) -> dict:
        return {"length": self.length, "dead_letters": self.dead_letters,
                "groups": {g.name: {"pending": g.pending, "lag": g.lag,
                                    "lag_seconds": g.lag_seconds} for g in self.groups}}


class EventStream(ABC):
    """Publish events; read, acknowledge, claim and dead-letter them as a member of a group."""

    @abstractmethod
    def publish(self, events: list[dict]) -> list[str]:
        """Append `events` durably (when this returns they survive a broker restart, as far as
        the broker's durability setting promises) and return their entry ids, in order."""

    @abstractmethod
    def read(self, group: str, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
        """Up to `count` entries never delivered to `group`, waiting up to `block_ms` (> 0) for
        one; None: answer at once."""

    @abstractmethod
    def ack(self, group: str, ids: list[str]) -> None:
        """`group` is done with these entries: they are never delivered to it again."""

    @abstractmethod
    def claim_stale(self, group: str, consumer: str, min_idle_ms: int, count: int
                    ) -> list[Entry]:
        """Entries of `group` delivered to some member but not acknowledged for `min_idle_ms`
        (a consumer died or failed on them), now delivered to `consumer`."""

    @abstractmethod
    def dead_letter(self, group: str, entry: Entry, error: str) -> None:
        """Move `entry` out of `group`'s way: kept with its error in the dead-letter stream, and
        acknowledged in the same transaction."""

    @abstractmethod
    def dead_letters(self, count: int = 100) -> list[dict]:
        """The latest dead letters: entry id, event, group, error, deliveries."""

    @abstractmethod
    def trim_acked(self) -> int:
        """Drop the entries every group has acknowledged; returns how many went."""

    @abstractmethod
    def stats(self) -> StreamStats:
        """Length, dead letters, and per group its pending entries and lag."""
