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

import csv
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from serving import REPO_ROOT
from serving.stream.base import Entry, EventStream
from serving.stream.profiles import ProfileRules, ProfileStore

GROUP = "profiles"
ERRORS = "tailor:events:errors"  # entry id -> the last error applying it (for its dead letter)
WEIGHTS_SEED = REPO_ROOT / "transforms" / "seeds" / "event_type_weights.csv"
DEFAULT_HALF_LIFE_DAYS = 30.0  # dbt's default, when no model says otherwise

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
    def __init__(self, stream: EventStream, profiles: ProfileStore, client: redis.Redis,
                 settings: WorkerSettings | None = None) -> None:
        self.stream = stream
        self.profiles = profiles
        self.client = client
        self.settings = settings or WorkerSettings()
        self.progress = Progress()
        self._trimmed_at = 0.0

    def step(self) -> int:
        """One claim, one read, their entries handled; returns how many entries it handled."""
        s = self.settings
        claimed = self.stream.claim_stale(GROUP, s.consumer, s.claim_idle_ms, s.batch)
        handled = self._handle(claimed)
        fresh = self.stream.read(GROUP, s.consumer, s.batch, None if claimed else s.block_ms)
        handled += self._handle(fresh)
        if time.monotonic() - self._trimmed_at >= s.trim_every_s:
            self.progress.trimmed += self.stream.trim_acked()
            self._trimmed_at = time.monotonic()
        return handled

    def run(self, stop: threading.Event) -> Progress:
        while not stop.is_set():
            try:
                self.step()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                logger.warning("stream worker: Redis unavailable (%s); retrying", error)
                stop.wait(1.0)
        return self.progress

    def _handle(self, entries: list[Entry]) -> int:
        if not entries:
            return 0
        live = []
        for entry in entries:
            if entry.deliveries > self.settings.max_deliveries:
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
        result = self.profiles.apply([e.event for e in entries])
        self.stream.ack(GROUP, [e.id for e in entries])  # after the profiles are written
        if any(e.deliveries > 1 for e in entries):
            self.client.hdel(ERRORS, *(e.id for e in entries))
        self.progress.applied += result.applied
        self.progress.repeated += result.repeated


def event_weights(path: Path = WEIGHTS_SEED) -> dict[str, float]:
    """The event-type weights of dbt's seed: the one definition training uses too."""
    with path.open() as f:
        return {row["event_type"]: float(row["weight"]) for row in csv.DictReader(f)}


def rules_from_bundle(folder: Path | None) -> ProfileRules:
    """Categories and half-life of the bundle in `folder` (the promoted model); without one, every
    item is unknown and the half-life is dbt's default."""
    weights = event_weights()
    if folder is None:
        return ProfileRules(lambda item: None, weights, DEFAULT_HALF_LIFE_DAYS * 86_400)
    from ml.bundle import load_bundle

    bundle = load_bundle(folder)
    catalog = bundle.model.index.catalog
    categories = dict(zip(catalog.item_ids.tolist(), catalog.category.tolist(), strict=True))
    days = bundle.metadata.get("data_window", {}).get("half_life_days", DEFAULT_HALF_LIFE_DAYS)
    return ProfileRules(categories.get, weights, float(days) * 86_400)
