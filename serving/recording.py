"""What is kept of every answer: the cache (look-up and store), the counters (cache hits,
fallbacks), the experiment exposure (off the answer's path: serving/stream/exposures.py) and the
log line, whose user is a salted hash, never the id."""

from __future__ import annotations

import hashlib
import secrets
import time

from ml.experiments.assignment import Assignment
from serving.cache import AnswerCache
from serving.logs import log_answers
from serving.metrics import Counters
from serving.schemas import HomepageResponse, ItemsResponse
from serving.settings import ServingSettings
from serving.stream.exposures import exposure_record

USER_HASHES_KEPT = 100_000  # a memo, not a user list


class AnswerRecorder:
    def __init__(self, settings: ServingSettings, cache: AnswerCache, counters: Counters) -> None:
        self.settings = settings
        self.cache = cache
        self.counters = counters
        # Where exposures go: a callable taking one record (ExposureLog.put), None to log none
        # (CLI, tests of answers alone).
        self.exposures = None
        self._salt = settings.log_salt or secrets.token_hex(16)
        self._user_hashes: dict[str, str] = {}

    def answer(self, key: tuple, request_id: str, endpoint: str, compute,
               assignment: Assignment | None = None, request=None):
        """The cached answer for `key`, else `compute()`'s (then cached), finished and logged."""
        started = time.perf_counter()
        answer = self.cache.get(key)
        hit = answer is not None
        if not hit:
            answer = compute()
            self.cache.put(key, answer)
        log: list[dict] = []
        answer = self.finish(key, request_id, endpoint, answer, hit, started, log, assignment,
                             request)
        log_answers(log)
        return answer

    def finish(self, key: tuple, request_id: str, endpoint: str, answer, hit: bool,
               started: float, log: list[dict], assignment: Assignment | None = None,
               request=None):
        """The answer for this request (its id, whether cached, its experiment), counted, its
        exposure logged; its log line's fields appended to `log`."""
        self.counters("cache_hits" if hit else "cache_misses", endpoint=endpoint).inc()
        update = {"request_id": request_id, "cached": hit}
        if assignment is not None:
            update["experiment"], update["variant"] = assignment.key
        answer = answer.model_copy(update=update)
        if assignment is not None and self.exposures is not None:
            self._expose(assignment, request, endpoint, request_id, answer)
        if answer.fallback_reason is not None:
            self.counters("fallbacks", endpoint=endpoint, reason=answer.fallback_reason).inc()
        if self.settings.request_logs:
            user_id = _user_of_key(key, endpoint)
            n_items = (sum(len(c.items) for c in answer.carousels)
                       if isinstance(answer, HomepageResponse) else len(answer.items))
            log.append({"endpoint": endpoint, "request_id": request_id,
                        "user": self.user_hash(user_id) if user_id else None,
                        "model_version": answer.model_version,
                        "personalized": answer.personalized,
                        "fallback_reason": answer.fallback_reason, "cached": hit,
                        "items": n_items, "unknown_item_ids": len(answer.unknown_item_ids),
                        "ms": round((time.perf_counter() - started) * 1000, 3)})
        return answer

    def _expose(self, assignment: Assignment, request, endpoint: str, request_id: str,
                answer) -> None:
        items = (answer.items if isinstance(answer, ItemsResponse)
                 else [item for carousel in answer.carousels for item in carousel.items])
        self.exposures(exposure_record(
            experiment=assignment.experiment, variant=assignment.variant, unit=assignment.unit,
            user_id=request.user_id, anonymous_id=request.anonymous_id,
            placement=getattr(request, "placement", "homepage"), endpoint=endpoint,
            request_id=request_id, model_version=answer.model_version,
            personalized=answer.personalized, excluded=assignment.excluded,
            item_ids=[item.item_id for item in items]))

    def user_hash(self, user_id: str) -> str:
        hashed = self._user_hashes.get(user_id)
        if hashed is None:
            if len(self._user_hashes) >= USER_HASHES_KEPT:
                self._user_hashes.clear()
            hashed = hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:16]
            self._user_hashes[user_id] = hashed
        return hashed


def _user_of_key(key: tuple, endpoint: str) -> str | None:
    """The customer, else the anonymous visitor, an answer was for (its log line hashes it)."""
    if endpoint not in ("recommend", "cross_sell", "homepage"):
        return None
    user_id, anonymous_id = key[2]
    return user_id or anonymous_id
