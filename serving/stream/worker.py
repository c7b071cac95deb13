"""`tailor stream-worker`: a member of the `profiles` consumer group, applying events to profiles.

Each step: claim what other members left pending too long (a worker killed mid-batch), then read
new entries; apply them (serving/stream/profiles.py: once per event_id, one transaction per
batch) and only then acknowledge them, so a crash between the two replays the batch and the
replay changes nothing. An entry whose batch fails is retried alone; one that still fails stays
pending, is claimed again after `claim_idle_ms`, and after `max_deliveries` deliveries goes to
the dead-letter stream with its last error. Every `trim_every_s` the stream is trimmed below what
every group (the workers, and the warehouse drain) has acknowledged.

Several workers may run on one stream (each with its own --consumer name); SIGTERM or Ctrl-C ends
a worker after its current batch.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import redis

from ml.online.profile_rules import ProfileRules
from serving.stream.base import Entry, EventStream
from serving.stream.exposures import EXPOSURE
from serving.stream.profiles import ProfileStore
from serving.stream.redis_stream import PROFILES_GROUP as GROUP

ERRORS = "tailor:events:errors"  # entry id -> the last error applying it (for its dead letter)

logger = logging.getLogger("tailor.stream")


@dataclass
class WorkerSettings:
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    batch: int = 200
    block_ms: int = 1_000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    trim_every_s: float = 10.0


@dataclass
class Progress:
    applied: int = 0
    repeated: int = 0
    failed: int = 0
    dead: int = 0
    trimmed: int = 0


class StreamWorker:
    def __init__(self, stream: EventStream, profiles: ProfileStore, rules: ProfileRules,
                 client: redis.Redis, settings: WorkerSettings | None = None) -> None:
        self.stream = stream
        self.profiles = profiles
        self.rules = rules  # the serving model's; `tailor stream-worker` swaps in a newer one
        self.client = client
        self.settings = settings or WorkerSettings()
        self.progress = Progress()
        self._trimmed_at = 0.0
        self._claimed_at = 0.0

    def step(self) -> int:
        """A claim (every quarter of claim_idle_ms: an entry is claimable only after that long),
        one read, their entries handled; returns how many entries it handled."""
        s = self.settings
        claimed = []
        if time.monotonic() - self._claimed_at >= s.claim_idle_ms / 4000:
            claimed = self.stream.claim_stale(GROUP, s.consumer, s.claim_idle_ms, s.batch)
            self._claimed_at = time.monotonic() if not claimed else 0.0  # more may wait
        handled = self._handle(claimed)
        fresh = self.stream.read(GROUP, s.consumer, s.batch, None if claimed else s.block_ms)
        handled += self._handle(fresh)
        if time.monotonic() - self._trimmed_at >= s.trim_every_s:
            self.progress.trimmed += self.stream.trim_acked()
            self._trimmed_at = time.monotonic()
        return handled

    def run(self, stop: threading.Event) -> Progress:
        while not stop.is_set():
            self.run_once_or_wait(stop)
        return self.progress

    def run_once_or_wait(self, stop: threading.Event) -> None:
        """One step; when it fails (Redis restarting, say), logged, and a wait of a second."""
        try:
            self.step()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            logger.warning("stream worker: Redis unavailable (%s); retrying", error)
            stop.wait(1.0)
        except Exception as error:  # e.g. Redis refusing a command: keep trying, visibly
            logger.error("stream worker: step failed: %s: %s", type(error).__name__, error)
            stop.wait(1.0)

    def _handle(self, entries: list[Entry]) -> int:
        if not entries:
            return 0
        live = []
        for entry in entries:
            if entry.problem is not None:  # no event at all: retrying cannot help
                self.stream.dead_letter(GROUP, entry, entry.problem)
                self.progress.dead += 1
            elif entry.deliveries > self.settings.max_deliveries:
                error = self.client.hget(ERRORS, entry.id) or "unknown error"
                self.stream.dead_letter(GROUP, entry, f"after {entry.deliveries - 1} deliveries: "
                                                      f"{error}")
                self.client.hdel(ERRORS, entry.id)
                self.progress.dead += 1
            else:
                live.append(entry)
        try:
            self._apply(live)
        except Exception:  # find the entries that fail: the others must not wait for them
            for entry in live:
                try:
                    self._apply([entry])
                except Exception as error:  # left pending: claimed again, then dead-lettered
                    self.client.hset(ERRORS, entry.id, f"{type(error).__name__}: {error}"[:500])
                    self.progress.failed += 1
                    logger.warning("stream worker: entry %s failed: %s", entry.id,
                                   type(error).__name__)
        return len(entries)

    def _apply(self, entries: list[Entry]) -> None:
        if not entries:
            return
        # exposures (serving/stream/exposures.py) change no profile: acknowledged with the rest
        events = [e.event for e in entries if e.event.get("event_type") != EXPOSURE]
        result = self.profiles.apply(events, self.rules) if events else None
        self.stream.ack(GROUP, [e.id for e in entries])  # after the profiles are written
        if any(e.deliveries > 1 for e in entries):
            self.client.hdel(ERRORS, *(e.id for e in entries))
        if result is not None:
            self.progress.applied += result.applied
            self.progress.repeated += result.repeated
