"""Exposures: one record per answer given in an experiment, sent to the event stream off the
answer's path.

An answer puts its exposure on an in-process queue (`ExposureLog.put`, a deque append) and is
returned; a thread publishes the queue to the stream in batches every FLUSH_INTERVAL_S (one
pipelined XADD per batch). When the stream refuses a batch, the records stay queued and are retried
a second later; past MAX_QUEUED, the oldest are dropped and counted
(`tailor_exposures_total{outcome="dropped"}`): an outage of Redis costs exposures, never answers.

An exposure is an entry of the event stream with `event_type` EXPOSURE (not an event of the data
contract: the stream workers acknowledge it without touching a profile, the warehouse drain
stores it in raw.exposures, ml/sources/stream.py). Its fields (EXPOSURE_FIELDS) name the
experiment, the variant, the randomization unit and the items shown; `excluded` says why the
visitor is left out of the analysis (no_consent), with `variant` then null.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from datetime import datetime

from ml.sources.contract import live_time_text
from serving.logs import log_event
from serving.stream.base import EventStream

EXPOSURE = "exposure"
EXPOSURE_FIELDS = ("event_id", "event_type", "experiment", "variant", "unit", "user_id",
                   "anonymous_id", "placement", "endpoint", "request_id", "occurred_at",
                   "model_version", "personalized", "excluded", "item_ids")
FLUSH_INTERVAL_S = 0.05
BATCH = 500
MAX_QUEUED = 100_000


def exposure_record(*, experiment: str, variant: str | None, unit: str, user_id: str | None,
                    anonymous_id: str | None, placement: str, endpoint: str, request_id: str,
                    model_version: str, personalized: bool, excluded: str | None,
                    item_ids: list[str], now: datetime | None = None) -> dict:
    return {"event_id": uuid.uuid4().hex, "event_type": EXPOSURE, "experiment": experiment,
            "variant": variant, "unit": unit, "user_id": user_id, "anonymous_id": anonymous_id,
            "placement": placement, "endpoint": endpoint, "request_id": request_id,
            "occurred_at": live_time_text(now or datetime.utcnow()),
            "model_version": model_version, "personalized": personalized, "excluded": excluded,
            "item_ids": item_ids}


class ExposureLog:
    def __init__(self, stream: EventStream, counter=None) -> None:
        self.stream = stream
        self.counter = counter  # tailor_exposures_total, or None
        self._queue: deque[dict] = deque()
        self._lock = threading.Lock()  # between put's overflow drop and a batch's removal
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tailor-exposures", daemon=True)
        self._thread.start()

    def put(self, record: dict) -> None:
        with self._lock:
            self._queue.append(record)
            dropped = len(self._queue) > MAX_QUEUED
            if dropped:
                self._queue.popleft()
        if dropped:
            self._count("dropped")

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish what is queued (for up to timeout_s), then stop."""
        self._stop.set()
        self._thread.join(timeout_s)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _count(self, outcome: str, amount: int = 1) -> None:
        if self.counter is not None:
            self.counter.labels(outcome=outcome).inc(amount)

    def _run(self) -> None:
        failed_at = 0.0
        while True:
            stopping = self._stop.wait(FLUSH_INTERVAL_S)
            while self._queue and time.monotonic() - failed_at >= 1.0:
                with self._lock:
                    batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
                try:
                    self.stream.publish(batch)
                except Exception as error:  # Redis away: keep them, try again in a second
                    failed_at = time.monotonic()
                    log_event("exposures_publish_failed", error=type(error).__name__,
                              queued=len(self._queue), level=logging.WARNING)
                    break
                sent = {id(r) for r in batch}
                with self._lock:  # an overflow may have dropped the first of them meanwhile
                    while self._queue and id(self._queue[0]) in sent:
                        self._queue.popleft()
                self._count("published", len(batch))
            if stopping and (not self._queue or time.monotonic() - failed_at < 1.0):
                return
