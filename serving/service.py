"""The Recommender: a BentoML service over the promoted `tailor` bundle.

    bentoml serve serving.service:Recommender        # BENTOML_HOME must hold the tailor model

Endpoints (POST, JSON; request/response models in serving/schemas.py; the protocol around them,
request ids, content type and error bodies, in serving/http.py): `recommend`, `similar_items`,
`cross_sell`, `homepage`, `popular`, `events` (event intake into the stream, serving/stream/), and
the admin `reload`. The event stream is the Redis at `TAILOR_REDIS_URL` (`tailor serve` starts
a local one when it is unset); without it, `events` answers 503 and the rest works as before.
Docs page at / and /docs, OpenAPI document at /docs.json (serving/openapi.py).
Operations: BentoML's `/healthz` (live), `/readyz` (200 once a bundle is loaded) and `/metrics`
(Prometheus, with tailor_fallbacks_total, tailor_cache_hits_total, tailor_cache_misses_total,
tailor_model_reloads_total, and the stream's tailor_stream_length, tailor_stream_lag_seconds,
tailor_stream_pending, tailor_stream_undelivered and tailor_dead_letters_total, refreshed every
STREAM_STATS_INTERVAL_S). Logs: one JSON line per answer on stderr (logger `tailor.serving`),
with a salted hash of the user id, never the id; BentoML's access log is off.

Concurrency: a worker is one event loop. Requests are answered in micro-batches
(serving/batching.py): those that arrive while a batch is being answered form the next one, and
the recommend requests of a batch share one candidate pass and one XGBoost call, made on a
separate thread while the loop prepares the next batch and answers the previous one. The `ms` of
an answer's log line counts from the start of its batch.

Experiments: the one running on a request's placement (recommend: its placement; homepage:
homepage) assigns the visitor an arm and every answer names it (`experiment`, `variant`); the
experiments are those `TAILOR_EXPERIMENTS_PATH` holds, re-read like consent. With the event
stream, each such answer's exposure goes to the stream off the answer's path
(serving/stream/exposures.py); without it, answers carry the arm and no exposure is logged.

Model updates: every worker checks `tailor:latest` every `reload_check_interval_s` (and on POST
/reload); a newer model is loaded beside the serving one and then swapped in by one reference
assignment, so requests in flight finish on the model they started with and none is dropped.
Workers share one port, so one worker's /readyz says nothing of the others: a request that reaches
a worker still loading its first model waits up to STARTUP_WAIT_S for it before answering 503.

`Engine` (serving/engine.py and the modules it names) holds all the logic and no BentoML: the
CLI, tests and benchmarks drive it directly.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import sys
import threading
import uuid
from pathlib import Path

import bentoml
from starlette.responses import JSONResponse

from serving import GC_THRESHOLDS, GIL_SWITCH_INTERVAL_S, MODEL_NAME
from serving.answers import LookupError404
from serving.batching import BoosterThread, MicroBatcher, one_by_one
from serving.engine import Engine
from serving.http import ApiGuard
from serving.logs import configure_logging, log_event
from serving.metrics import Metrics
from serving.openapi import docs_page, openapi_document, service_version
from serving.schemas import (
    CrossSellRequest,
    EventsRequest,
    EventsResponse,
    HomepageRequest,
    HomepageResponse,
    ItemsResponse,
    PopularRequest,
    RecommendRequest,
    ReloadRequest,
    ReloadResponse,
    SimilarItemsRequest,
    error_body,
)
from serving.settings import environment, load_settings
from serving.state import ModelNotLoaded
from serving.stream.exposures import ExposureLog
from serving.stream.intake import EventIntake, StreamUnavailable
from serving.stream.local_redis import URL_ENV

REQUEST_ID_HEADER = "x-request-id"
STREAM_STATS_INTERVAL_S = 5.0
STARTUP_WAIT_S = 5.0  # below the traffic timeout (10 s): a slow start is a slow answer, not a 503
LOOPBACK = frozenset({"127.0.0.1", "::1"})  # client addresses as uvicorn reports them


# -- the BentoML service ---------------------------------------------------------------------------


def _latest_model() -> tuple[str, str]:
    model = bentoml.models.get(f"{MODEL_NAME}:latest")
    return str(model.tag), model.path


def _request_id(explicit: str | None, ctx: bentoml.Context) -> str:
    """The body's id, else the header's (both validated: schemas / serving/http.py), else new."""
    return explicit or ctx.request.headers.get(REQUEST_ID_HEADER) or str(uuid.uuid4())


def _error(ctx: bentoml.Context, status: int, request_id: str, field: str, message: str,
           kind: str) -> JSONResponse:
    ctx.response.status_code = status
    ctx.response.headers["X-Request-ID"] = request_id
    return JSONResponse(error_body(message, [field], kind, request_id), status_code=status)


def _from_this_machine(ctx: bentoml.Context) -> bool:
    client = ctx.request.client
    return client is not None and client.host in LOOPBACK


@bentoml.service(
    name="Recommender",
    traffic={"timeout": 10},
    workers=environment().serving_workers,
    logging={"access": {"enabled": False}},  # it logs paths and would log ids
)
class Recommender:
    # At class scope, so that `bentoml build` ships the model in the Bento.
    bundle_ref = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")

    def __init__(self) -> None:
        configure_logging()
        self.settings = load_settings()
        self.engine = Engine(self.settings, Metrics.prometheus())
        self._stop = threading.Event()
        gc.set_threshold(*GC_THRESHOLDS)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._booster = BoosterThread()
        self._batchers = {
            "recommend": MicroBatcher(self._prepare_recommend, self.engine.complete_recommend,
                                      self._booster),
            **{name: MicroBatcher(*one_by_one(getattr(self.engine, name)), self._booster)
               for name in ("similar_items", "cross_sell", "homepage", "popular")},
        }
        self.stream, self.intake = _event_stream()
        self.exposure_log = None
        if self.intake is not None:  # answers read the online profiles the events build
            self.engine.visitors.profiles = self.intake.profiles.current_many
            self.exposure_log = ExposureLog(self.stream, self.engine.metrics.exposures)
            self.engine.recorder.exposures = self.exposure_log.put
        threading.Thread(target=self._load_then_watch, name="tailor-model", daemon=True).start()
        if self.stream is not None:
            threading.Thread(target=self._watch_stream, name="tailor-stream", daemon=True).start()

    def _load_then_watch(self) -> None:
        try:
            self.engine.load(Path(self.bundle_ref.path), str(self.bundle_ref.tag))
        except Exception as exc:  # the service stays alive but never ready; the log says why
            self.engine.load_error = f"{type(exc).__name__}: {exc}"
            log_event("model_load_failed", error=self.engine.load_error, level=logging.ERROR)
            return
        gc.collect()
        gc.freeze()  # the loaded model's objects leave the cyclic GC's scans: fewer long pauses
        interval = self.settings.reload_check_interval_s
        while interval > 0 and not self._stop.wait(interval):
            for check in (lambda: self.engine.reload_latest(_latest_model),
                          self.engine.refresh_consent, self.engine.refresh_experiments):
                try:
                    check()
                except Exception as exc:  # keep serving what is loaded
                    log_event("background_check_failed", error=type(exc).__name__,
                         level=logging.WARNING)

    def _watch_stream(self) -> None:
        """The stream's gauges of /metrics, from Redis every STREAM_STATS_INTERVAL_S."""
        while not self._stop.wait(STREAM_STATS_INTERVAL_S):
            try:
                self.engine.metrics.stream.observe(self.stream.stats())
            except Exception as exc:  # Redis away: the gauges keep their last values
                log_event("stream_stats_failed", error=type(exc).__name__, level=logging.WARNING)

    def __is_ready__(self) -> bool:
        return self.engine.state is not None

    def __is_alive__(self) -> bool:
        return self.engine.load_error is None  # a bundle that cannot load: let it be restarted

    @bentoml.on_shutdown
    def _shutdown(self) -> None:
        self._stop.set()
        self._booster.shutdown()
        if self.exposure_log is not None:
            self.exposure_log.close()

    def _prepare_recommend(self, items: list[tuple[RecommendRequest, str]]):
        work = self.engine.prepare_recommend(items)
        return work, (work.score if work.users else None)

    async def _answer(self, endpoint: str, request, ctx: bentoml.Context):
        request_id = _request_id(request.request_id, ctx)
        if self.engine.state is None:
            await self._first_model()
        try:
            answer = await self._batchers[endpoint].submit((request, request_id))
        except LookupError404 as error:
            return _error(ctx, 404, request_id, error.field, error.message, "not_found")
        except ModelNotLoaded as error:
            return _error(ctx, 503, request_id, "model", str(error), "not_ready")
        ctx.response.headers["X-Request-ID"] = request_id
        return answer

    async def _first_model(self) -> None:
        """Until this worker's first model is in (or its load failed), at most STARTUP_WAIT_S."""
        deadline = asyncio.get_running_loop().time() + STARTUP_WAIT_S
        while (self.engine.state is None and self.engine.load_error is None
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(0.05)

    @bentoml.api(input_spec=RecommendRequest)
    async def recommend(self, ctx: bentoml.Context, **fields) -> ItemsResponse:
        """Recommendations for a user on a placement (homepage, product_page, cart, email)."""
        return await self._answer("recommend", RecommendRequest.model_construct(**fields), ctx)

    @bentoml.api(input_spec=SimilarItemsRequest)
    async def similar_items(self, ctx: bentoml.Context, **fields) -> ItemsResponse:
        """Items similar to an item: content neighbours, then items bought with it."""
        return await self._answer("similar_items", SimilarItemsRequest.model_construct(**fields),
                                  ctx)

    @bentoml.api(input_spec=CrossSellRequest)
    async def cross_sell(self, ctx: bentoml.Context, **fields) -> ItemsResponse:
        """Complements for a cart: bought together with its items, no near-duplicates of them."""
        return await self._answer("cross_sell", CrossSellRequest.model_construct(**fields), ctx)

    @bentoml.api(input_spec=HomepageRequest)
    async def homepage(self, ctx: bentoml.Context, **fields) -> HomepageResponse:
        """Carousels for a user's homepage: picked_for_you, because_you_viewed_<item>,
        top_in_<category> (trending and top_in_<category> when not personalized)."""
        return await self._answer("homepage", HomepageRequest.model_construct(**fields), ctx)

    @bentoml.api(input_spec=PopularRequest)
    async def popular(self, ctx: bentoml.Context, **fields) -> ItemsResponse:
        """Trending items overall, in a category, or popular within a customer segment."""
        return await self._answer("popular", PopularRequest.model_construct(**fields), ctx)

    @bentoml.api(input_spec=EventsRequest)
    async def events(self, ctx: bentoml.Context, **fields) -> EventsResponse:
        """Events into the stream: each checked on its own against the data contract; the valid
        ones are durable in the stream when this answers (200), the others listed with the field
        and the reason. Unknown item ids are accepted, kept and listed. 503 when the stream is
        unavailable (nothing accepted: retry with the same event ids)."""
        request = EventsRequest.model_construct(**fields)
        request_id = _request_id(request.request_id, ctx)
        if self.intake is None:
            return _error(ctx, 503, request_id, "events",
                          f"events: no event stream configured ({URL_ENV})", "not_ready")
        state = self.engine.state
        known = state.item_index.__contains__ if state is not None else (lambda _: False)
        try:
            result = await asyncio.to_thread(self.intake.accept, request.events, known)
        except StreamUnavailable as error:
            return _error(ctx, 503, request_id, "events",
                          f"events: the event stream is unavailable ({error})", "unavailable")
        ctx.response.headers["X-Request-ID"] = request_id
        return EventsResponse(request_id=request_id, accepted=result.accepted,
                              rejected=result.rejected, unknown_item_ids=result.unknown_item_ids)

    @bentoml.api(input_spec=ReloadRequest)
    async def reload(self, ctx: bentoml.Context, **fields) -> ReloadResponse:
        """Admin: load `tailor:latest` if it is newer, then swap it in (this worker now; the others
        within reload_check_interval_s). With admin_token set, header X-Admin-Token must carry it;
        without one, only callers on this machine (loopback) may reload."""
        request_id = _request_id(fields.get("request_id"), ctx)
        token = self.settings.admin_token
        if token:
            if not secrets.compare_digest(ctx.request.headers.get("x-admin-token", "").encode(),
                                          token.encode()):
                return _error(ctx, 403, request_id, "X-Admin-Token",
                              "reload: X-Admin-Token missing or wrong", "forbidden")
        elif not _from_this_machine(ctx):
            return _error(ctx, 403, request_id, "X-Admin-Token",
                          "reload: from another machine only with an admin token "
                          "(TAILOR_SERVING_ADMIN_TOKEN)", "forbidden")
        previous = self.engine.state.version if self.engine.state else ""
        reloaded, tag = await asyncio.to_thread(self.engine.reload_latest, _latest_model, True)
        await asyncio.to_thread(self.engine.refresh_consent)
        await asyncio.to_thread(self.engine.refresh_experiments)
        ctx.response.headers["X-Request-ID"] = request_id
        return ReloadResponse(request_id=request_id, reloaded=reloaded,
                              model_version=self.engine.state.version, previous_version=previous,
                              model_tag=tag)


def _event_stream():
    """(stream, intake) on `TAILOR_REDIS_URL`, or (None, None) without one."""
    url = environment().redis_url
    if not url:
        return None, None
    from serving.stream.profiles import ProfileStore
    from serving.stream.redis_stream import RedisEventStream, connect

    client = connect(url)
    stream = RedisEventStream(client)
    return stream, EventIntake(stream, ProfileStore(client))


# The protocol around every endpoint (request ids, content type, error bodies) and our own docs.
Recommender.add_asgi_middleware(
    ApiGuard,
    api_paths=frozenset(f"/{name}" for name in Recommender.apis),
    docs_page=lambda: docs_page(service_version()),
    openapi=lambda: openapi_document(Recommender.openapi_spec.asdict(), service_version()),
)
