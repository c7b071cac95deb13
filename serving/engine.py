"""The Recommender's logic, without BentoML: `Engine` answers every endpoint's request from the
current loaded model (`serving.state.ModelState`) and swaps models on reload. The HTTP service
(serving/service.py), the CLI (`tailor recommend`, `tailor export-recommendations`) and tests all
answer through it, so a user gets the same decision (consent, fallback, business rules) whatever
surface asks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from ml.consent import NO_CONSENT, load_consent, refusal
from ml.experiments.design import Running, read_published, unit_of
from ml.online.live import LiveEvents, UserRows
from ml.online.profile import Profile
from ml.online.scorer import CandidateBatch, Ranked
from ml.ranking.hybrid import scores_below
from serving.logs import log_answers, log_event
from serving.metrics import Metrics
from serving.rules import AnswerCache, ServingSettings, allowed_mask, diversify
from serving.schemas import (
    Carousel,
    CrossSellRequest,
    HomepageRequest,
    HomepageResponse,
    ItemsResponse,
    PopularRequest,
    RecommendRequest,
    SimilarItemsRequest,
)
from serving.state import Candidates, ModelState
from serving.stream.exposures import exposure_record


def engine_for(folder: Path, tag: str, settings: ServingSettings) -> Engine:
    """An engine serving the bundle in `folder` (what the CLI answers from)."""
    engine = Engine(settings)
    engine.load(folder, tag)
    return engine


class ModelNotLoaded(Exception):
    """No model is loaded yet: the service answers 503."""


class LookupError404(Exception):
    """An id to look up (not merely to filter by) is unknown: a 404 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


LIVE_ROWS_KEPT = 10_000  # visitors whose composed live rows are kept (a few KB each)
CONTROL = "experiment_control"  # the fallback reason of an experiment's non-personalized arm

# -- the logic -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """Whom an answer is for, as the serving model sees them."""

    user: int  # the model's index of the customer; -1 when it does not know them
    live: UserRows | None  # their rows with their live events (None: the model's rows as they are)
    fallback: str | None  # why the answer is not personal (ml.consent.refusal); None: it is

    @property
    def personal(self) -> bool:
        return self.fallback is None


@dataclass(frozen=True)
class Assignment:
    """A request's place in the experiment running on its placement (ml/experiments/design.py)."""

    experiment: str
    variant: str | None  # None: left out of the experiment (`excluded` says why)
    unit: str  # the randomization unit (ml.experiments.design.unit_of)
    serves: str  # personalized | trending
    excluded: str | None  # no_consent: such visitors get what they always get, and no arm

    @property
    def key(self) -> tuple:
        return (self.experiment, self.variant)


@dataclass(frozen=True)
class RecommendWork:
    """A batch of recommend requests between `Engine.prepare_recommend` and
    `Engine.complete_recommend`: `score()`, the ranker's pass over the candidates of `users`, is
    the only step left between them (the service runs it on its booster thread)."""

    requests: list
    started: float
    state: ModelState
    keys: list
    cached: list
    who: dict  # request position -> (its Visitor, its position in `users` or None)
    assignments: list  # per request: its Assignment, or None outside experiments
    users: list  # the users whose answers need the ranker, none when every answer is cached
    live: list  # per entry of `users`: its live rows, or None
    exclude_purchased: bool

    def score(self) -> tuple[CandidateBatch, np.ndarray]:
        return self.state.scorer.score(self.users, self.exclude_purchased, self.live)


class Engine:
    """Answers requests from the current `ModelState`; swaps states on reload."""

    def __init__(self, settings: ServingSettings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.cache = AnswerCache(settings.cache_size, settings.cache_ttl_s)
        self.metrics = metrics or Metrics.disabled()
        self.state: ModelState | None = None
        self.load_error: str | None = None
        self._reload_lock = threading.Lock()
        self._failed_tag: str | None = None
        self._consent_mtime: float | None = self._consent_file_mtime()
        self._salt = settings.log_salt or secrets.token_hex(16)
        self._counters: dict[tuple, object] = {}
        self._user_hashes: dict[str, str] = {}
        # (rules, [(user_id, anonymous_id)]) -> [Profile | None]: the online profiles
        # (serving/stream/profiles.py ProfileStore.current_many); None without an event stream
        self.profiles = None
        self._profile_failure_logged = 0.0
        # A visitor's live rows per profile stamp: the pages of one visit (homepage, recommend
        # on several placements, cross_sell) rank from the same rows until the next event.
        self._live_rows: OrderedDict[tuple, UserRows] = OrderedDict()
        # The running experiments (settings.experiments_path, re-read when it changes), and
        # where their exposures go: a callable taking one record (serving/stream/exposures.py
        # ExposureLog.put), None to log none (CLI, tests of answers alone).
        self.experiments = Running()
        self._experiments_mtime: float | None = None
        self.exposures = None
        self.refresh_experiments()

    # -- model lifecycle -------------------------------------------------------------------------

    def load(self, folder: Path, tag: str) -> ModelState:
        state = ModelState.load(folder, tag, self.settings)
        self._swap(state)
        return state

    def _swap(self, state: ModelState) -> None:
        previous = self.state
        self.state = state  # one reference assignment: requests in flight keep their state
        self.cache.clear()
        self._live_rows.clear()
        self.metrics.serving(state.version, state.tag,
                             (previous.version, previous.tag) if previous else None)
        log_event("model_loaded", model_version=state.version, model_tag=state.tag,
             previous_version=previous.version if previous else None,
             consent_source=state.consent.source, segments=sorted(state.segment_scores),
             contender=state.scorer.source or "hybrid",
             predictor=state.scorer.predict.path if state.scorer.predict else "source scores")

    def reload_latest(self, find_latest, force: bool = False) -> tuple[bool, str]:
        """Load `find_latest()` -> (tag, folder) if its tag differs from the serving one. A tag
        that failed to load is retried only when forced (POST /reload), not by every check."""
        with self._reload_lock:
            tag, folder = find_latest()
            if self.state is not None and self.state.tag == tag:
                return False, tag
            if tag == self._failed_tag and not force:
                return False, tag
            previous = self.state.version if self.state else None
            try:
                self._swap(ModelState.load(Path(folder), tag, self.settings))
            except Exception as exc:
                self._failed_tag = tag
                self.metrics.reloads.labels(outcome="failed").inc()
                log_event("model_reload_failed", model_tag=tag, error=type(exc).__name__,
                     level=logging.ERROR)
                raise
            self._failed_tag = None
            self.metrics.reloads.labels(outcome="loaded").inc()
            log_event("model_reloaded", model_tag=tag, previous_version=previous)
            return True, tag

    def _consent_file_mtime(self) -> float | None:
        path = self.settings.consent_path
        return path.stat().st_mtime if path is not None and path.exists() else None

    def refresh_consent(self) -> bool:
        """Re-read the consent file of the settings when it changed (a customer who opts out is
        honoured within one check, not at the next model); the bundle's own snapshot is fixed."""
        with self._reload_lock:
            state, mtime = self.state, self._consent_file_mtime()
            if state is None or mtime is None or mtime == self._consent_mtime:
                return False
            consent = load_consent(state.folder, self.settings.consent_path,
                                   self.settings.consent_default)
            self._consent_mtime = mtime
            if consent.source != str(self.settings.consent_path):
                return False  # the bundle carries its own snapshot, which wins
            self._swap(replace(state, consent=consent))
            return True

    def refresh_experiments(self) -> bool:
        """Re-read the published experiments (the `experiment_registry` asset writes them) when
        the file changed; the cache is cleared with them, as answers carry their variant. A file
        that cannot be read leaves the experiments as they were (logged)."""
        path = self.settings.experiments_path
        mtime = path.stat().st_mtime if path is not None and path.exists() else None
        if mtime == self._experiments_mtime:
            return False
        self._experiments_mtime = mtime
        try:
            self.experiments = read_published(path) if mtime is not None else Running()
        except Exception as exc:  # a broken file: keep the experiments we had, say why
            log_event("experiments_load_failed", error=f"{type(exc).__name__}: {exc}"[:500],
                      level=logging.ERROR)
            return False
        self.cache.clear()
        log_event("experiments_loaded", version=self.experiments.version,
                  running=self.experiments.names(datetime.utcnow()))
        return True

    def _current(self) -> ModelState:
        state = self.state
        if state is None:
            raise ModelNotLoaded("the model is still loading")
        return state

    # -- shared steps ----------------------------------------------------------------------------

    def _profiles(self, state: ModelState, ids: list[tuple[str | None, str | None]]
                  ) -> list[Profile | None]:
        """The online profile of each (user_id, anonymous_id), every accepted event in it; all
        None without an event stream, or while it cannot be read (answers then come from the
        model alone: counted, and logged once a minute)."""
        if self.profiles is None:
            return [None] * len(ids)
        try:
            found = self.profiles(state.profile_rules, ids)
        except Exception as exc:
            self._counter("profile_reads", outcome="failed").inc(len(ids))
            if time.monotonic() - self._profile_failure_logged > 60:
                self._profile_failure_logged = time.monotonic()
                log_event("profile_read_failed", error=type(exc).__name__, level=logging.WARNING)
            return [None] * len(ids)
        for profile in found:
            self._counter("profile_reads", outcome="none" if profile is None else "found").inc()
        return found

    def _assign(self, state: ModelState, placement: str, user_id: str | None,
                anonymous_id: str | None, profile: Profile | None) -> Assignment | None:
        """The visitor's arm in the experiment running on `placement` (one hash), or None."""
        if not self.experiments:
            return None
        assigner = self.experiments.at(placement, datetime.utcnow())
        if assigner is None:
            return None
        stitched = profile.stitched if profile is not None else ()
        unit = unit_of(user_id, anonymous_id, stitched)
        customer = _customer(user_id, profile)
        name = assigner.experiment.name
        if not state.consent.allows(customer or anonymous_id):
            return Assignment(name, None, unit, "personalized", NO_CONSENT)
        variant = assigner.arm(unit)
        return Assignment(name, variant, unit, assigner.serves[variant], None)

    def _visitor(self, state: ModelState, user_id: str | None, anonymous_id: str | None,
                 profile: Profile | None, assignment: Assignment | None = None) -> Visitor:
        """Whom to answer for, and whether personally (ml.consent.refusal: the one decision). A
        customer the model knows with a history, or anyone with live events the model has not
        seen, gets a personal answer, from the model's rows plus those events; an experiment's
        trending arm gets what an unknown visitor gets, through the same code."""
        user_id = _customer(user_id, profile)
        events = state.live_events(profile)
        user = state.bundle.model.index.user_index.get(user_id, -1) if user_id else -1
        known = user_id is not None and state.user(user_id) is not None
        refused = refusal(state.consent, user_id or anonymous_id,
                          known=known or events is not None)
        if refused != NO_CONSENT and assignment is not None and assignment.serves == "trending":
            return Visitor(user, None, CONTROL)
        if refused is not None:
            return Visitor(user, None, refused)
        if events is None:
            return Visitor(user, None, None)
        return Visitor(user, self._composed(state, user, profile, events), None)

    def _composed(self, state: ModelState, user: int, profile: Profile,
                  events: LiveEvents) -> UserRows:
        """The model's rows of `user` (-1: none) plus the profile's live `events`, kept per
        profile stamp (LIVE_ROWS_KEPT of them)."""
        key = (state.version, user, *_stamp(profile))
        rows = self._live_rows.get(key)
        if rows is None:
            base = state.scorer.users.rows(user) if user >= 0 else state.live.empty()
            rows = self._live_rows[key] = state.live.compose(base, events)
            if len(self._live_rows) > LIVE_ROWS_KEPT:
                self._live_rows.popitem(last=False)
        else:
            self._live_rows.move_to_end(key)
        return rows

    @staticmethod
    def _rows(state: ModelState, visitor: Visitor) -> UserRows:
        return visitor.live if visitor.live is not None else state.scorer.users.rows(visitor.user)

    def _allowed(self, state: ModelState, excluded: np.ndarray,
                 visitor: Visitor | None) -> np.ndarray:
        allowed = allowed_mask(len(state.item_ids), state.in_stock, excluded, self.settings)
        if visitor is not None and visitor.personal and self.settings.exclude_purchased:
            allowed[self._rows(state, visitor).purchase_counts[0]] = False
        return allowed

    def _select(self, candidates: Candidates, allowed: np.ndarray, k: int, state: ModelState,
                diverse: bool, tail: Candidates | None = None) -> Candidates:
        """The first k allowed candidates (diversified), continued by `tail` (scored below them)
        only when they fall short: the same k as selecting from `candidates.then(tail)`, without
        building that catalog-long list for most requests."""
        picked = candidates.where(allowed[candidates.items])
        if diverse:
            positions = diversify(picked.items, state.category_codes, k,
                                  self.settings.max_category_share, relax=tail is None)
        else:
            positions = np.arange(min(k, len(picked.items)))
        if len(positions) < k and tail is not None:
            return self._select(candidates.then(self._below(candidates, tail)), allowed, k, state,
                                diverse)
        return picked.take(positions)

    def _trending(self, state: ModelState, order: np.ndarray | None = None,
                  scores: np.ndarray | None = None, source: str = "trending") -> Candidates:
        if order is None and scores is None:
            return state.trending_candidates
        order = state.trending_order if order is None else order
        scores = state.trending if scores is None else scores
        return Candidates(order, scores[order].astype(np.float64),
                          np.full(len(order), source, dtype=object),
                          np.full(len(order), -1, dtype=np.int64))

    @staticmethod
    def _below(head: Candidates, tail: Candidates) -> Candidates:
        """`tail` re-scored below everything in `head` (`ml.ranking.hybrid.scores_below`, as the
        model's padding is). Scored by position in the whole tail, before `then` drops what `head`
        holds, so not `pad_with_trending`, which scores only the items it adds."""
        return Candidates(tail.items, scores_below(head.scores, len(tail.items)), tail.sources,
                          tail.anchors)

    def _neighbours(self, state: ModelState, anchors: np.ndarray,
                    sources: tuple[str, ...]) -> Candidates:
        """Items related to `anchors` through each neighbour source in turn: by summed similarity,
        each with the anchor that contributed most."""
        result = Candidates.empty()
        for source in sources:
            matrix = state.scorer.neighbors[source]
            starts, ends = matrix.indptr[anchors], matrix.indptr[anchors + 1]
            lengths = ends - starts
            if lengths.sum() == 0:
                continue
            offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            positions = np.arange(int(lengths.sum())) + offsets
            columns = matrix.indices[positions]
            values = matrix.data[positions].astype(np.float64)
            origins = np.repeat(anchors, lengths)
            totals = np.zeros(len(state.item_ids))
            np.add.at(totals, columns, values)
            best = np.lexsort((-values, columns))
            first = best[np.r_[True, columns[best][1:] != columns[best][:-1]]]
            items = columns[first]
            order = np.lexsort((items, -totals[items]))
            items = items[order]
            result = result.then(Candidates(items.astype(np.int64), totals[items],
                                            np.full(len(items), source, dtype=object),
                                            origins[first][order].astype(np.int64)))
        return result.where(~np.isin(result.items, anchors))

    def _personal(self, state: ModelState, visitor: Visitor,
                  ranked: Ranked | None = None) -> Candidates:
        if ranked is None:
            ranked = state.scorer.rank_many([visitor.user], self.settings.exclude_purchased,
                                            [visitor.live])[0]
        return Candidates(ranked.items, ranked.scores.astype(np.float64), ranked.sources,
                          ranked.anchors)

    def _items(self, state: ModelState, chosen: Candidates) -> list[dict]:
        """The fields of each `Item`, validated by the response model that holds them (one
        pydantic call for the whole list is cheaper than one per item)."""
        out = []
        for item, score, source, anchor in zip(chosen.items.tolist(), chosen.scores.tolist(),
                                               chosen.sources.tolist(), chosen.anchors.tolist(),
                                               strict=True):
            category = state.category_name_list[item]
            out.append({"item_id": state.item_id_list[item], "title": state.title_list[item],
                        "score": round(score, 6),
                        "source": source.split(":", 1)[0],
                        "reason": _reason(state, source, anchor, category),
                        "category": category})
        return out

    # -- endpoints -------------------------------------------------------------------------------

    def recommend(self, request: RecommendRequest, request_id: str) -> ItemsResponse:
        return self.recommend_many([(request, request_id)])[0]

    def recommend_many(self, requests: list[tuple[RecommendRequest, str]]) -> list[ItemsResponse]:
        """Answers to several recommend requests; the personal ones not in the cache share one
        ranking pass (one booster call for all their candidates). The service runs the same
        three steps with the booster call on another thread (serving/batching.py)."""
        work = self.prepare_recommend(requests)
        return self.complete_recommend(work, work.score() if work.users else None)

    def prepare_recommend(self, requests: list[tuple[RecommendRequest, str]]) -> RecommendWork:
        """Profiles, cache lookups, and who of the requests the cache does not answer gets a
        personal answer."""
        started = time.perf_counter()
        state = self._current()
        profiles = self._profiles(state, [(r.user_id, r.anonymous_id) for r, _ in requests])
        assignments = [self._assign(state, request.placement, request.user_id,
                                    request.anonymous_id, profile)
                       for (request, _), profile in zip(requests, profiles, strict=True)]
        keys = [self._recommend_key(state, request, profile, assignment)
                for (request, _), profile, assignment in zip(requests, profiles, assignments,
                                                             strict=True)]
        cached = [self.cache.get(key) for key in keys]
        who, slots, users, live = {}, {}, [], []
        for i, ((request, _), profile) in enumerate(zip(requests, profiles, strict=True)):
            if cached[i] is not None:
                continue
            assignment = assignments[i]
            same = (request.user_id, request.anonymous_id, _stamp(profile),
                    assignment.key if assignment else None)
            if same not in slots:  # the same visitor twice in a batch: ranked once
                visitor = self._visitor(state, request.user_id, request.anonymous_id, profile,
                                        assignment)
                slots[same] = (visitor, len(users) if visitor.personal else None)
                if visitor.personal:
                    users.append(visitor.user)
                    live.append(visitor.live)
            who[i] = slots[same]
        return RecommendWork(requests, started, state, keys, cached, who, assignments, users, live,
                             self.settings.exclude_purchased)

    def complete_recommend(self, work: RecommendWork,
                           scored: tuple[CandidateBatch, np.ndarray] | None) -> list[ItemsResponse]:
        """The answers, from `work.score()` (None when `work.users` is empty)."""
        state = work.state
        ranked = state.scorer.ranked(*scored) if work.users else []
        answers, log = [], []
        for i, ((request, request_id), key) in enumerate(zip(work.requests, work.keys,
                                                             strict=True)):
            answer, hit = work.cached[i], work.cached[i] is not None
            if not hit:
                visitor, slot = work.who[i]
                answer = self._recommend(state, request, visitor,
                                         ranked[slot] if slot is not None else None)
                self.cache.put(key, answer)
            answers.append(self._finish(key, request_id, "recommend", answer, hit, work.started,
                                        log, work.assignments[i], request))
        log_answers(log)
        return answers

    @staticmethod
    def _recommend_key(state: ModelState, request: RecommendRequest, profile: Profile | None,
                       assignment: Assignment | None) -> tuple:
        context = request.context
        return (state.version, "recommend", (request.user_id, request.anonymous_id),
                _stamp(profile), assignment.key if assignment else None, request.placement,
                request.k,
                tuple(sorted(set(context.viewed_item_ids))),
                tuple(sorted(set(context.cart_item_ids))),
                tuple(sorted(set(request.exclude_item_ids))))

    def _recommend(self, state: ModelState, request: RecommendRequest, visitor: Visitor,
                   ranked: Ranked | None) -> ItemsResponse:
        unknown: list[str] = []
        viewed = state.resolve(request.context.viewed_item_ids, unknown)
        cart = state.resolve(request.context.cart_item_ids, unknown)
        excluded = np.concatenate([viewed, cart, state.resolve(request.exclude_item_ids, unknown)])
        tail = self._trending(state)
        if visitor.personal:
            candidates = self._personal(state, visitor, ranked)
        elif len(cart) or len(viewed):
            # Not personal: what relates to the items in front of the visitor, then trending.
            sources = ("copurchase", "content") if len(cart) else ("content", "copurchase")
            candidates = self._neighbours(state, np.union1d(cart, viewed), sources)
        else:
            candidates, tail = self._trending(state), None
        chosen = self._select(candidates, self._allowed(state, excluded, visitor), request.k,
                              state, diverse=True, tail=tail)
        return ItemsResponse(request_id="", model_version=state.version,
                             placement=request.placement, personalized=visitor.personal,
                             fallback_reason=visitor.fallback, unknown_item_ids=unknown,
                             items=self._items(state, chosen))

    def similar_items(self, request: SimilarItemsRequest, request_id: str) -> ItemsResponse:
        state = self._current()
        item = state.item_index.get(request.item_id)
        if item is None:
            raise LookupError404("item_id", f"item_id: unknown item {request.item_id!r}")
        key = (state.version, "similar_items", request.item_id, request.k,
               tuple(sorted(set(request.exclude_item_ids))))
        return self._cached(key, request_id, "similar_items",
                            lambda: self._similar(state, item, request))

    def _similar(self, state: ModelState, item: int, request: SimilarItemsRequest) -> ItemsResponse:
        unknown: list[str] = []
        excluded = np.append(state.resolve(request.exclude_item_ids, unknown), item)
        head = self._neighbours(state, np.array([item]), ("content", "copurchase"))
        category = state.category_codes[item]
        same = state.popularity_order[state.category_codes[state.popularity_order] == category]
        tail = self._trending(state, same, state.bundle.model.index.popularity, source="segment")
        chosen = self._select(head, self._allowed(state, excluded, None), request.k, state,
                              diverse=False, tail=tail)
        return ItemsResponse(request_id="", model_version=state.version, placement="similar_items",
                             personalized=False, unknown_item_ids=unknown,
                             items=self._items(state, chosen))

    def cross_sell(self, request: CrossSellRequest, request_id: str) -> ItemsResponse:
        state = self._current()
        profile = (self._profiles(state, [(request.user_id, request.anonymous_id)])[0]
                   if request.user_id or request.anonymous_id else None)
        key = (state.version, "cross_sell", (request.user_id, request.anonymous_id),
               _stamp(profile), request.k, tuple(sorted(set(request.cart_item_ids))),
               tuple(sorted(set(request.exclude_item_ids))))
        return self._cached(key, request_id, "cross_sell",
                            lambda: self._cross_sell(state, request, profile))

    def _cross_sell(self, state: ModelState, request: CrossSellRequest,
                    profile: Profile | None) -> ItemsResponse:
        unknown: list[str] = []
        cart = state.resolve(request.cart_item_ids, unknown)
        excluded = np.concatenate([cart, state.resolve(request.exclude_item_ids, unknown)])
        if request.user_id or request.anonymous_id:
            visitor = self._visitor(state, request.user_id, request.anonymous_id, profile)
        else:
            visitor = Visitor(-1, None, None)
        personal = visitor.personal and (visitor.user >= 0 or visitor.live is not None)
        allowed = self._allowed(state, excluded, visitor if personal else None)
        if len(cart):
            allowed &= ~self._near_duplicates(state, cart)
        head = self._neighbours(state, cart, ("copurchase",)) if len(cart) else Candidates.empty()
        # after what the cart suggests: the visitor's own ranking, else trending
        tail = (self._personal(state, visitor).then(self._trending(state)) if personal
                else self._trending(state))
        chosen = self._select(head, allowed, request.k, state, diverse=True, tail=tail)
        return ItemsResponse(request_id="", model_version=state.version, placement="cross_sell",
                             personalized=personal, fallback_reason=visitor.fallback,
                             unknown_item_ids=unknown, items=self._items(state, chosen))

    def _near_duplicates(self, state: ModelState, cart: np.ndarray) -> np.ndarray:
        matrix = state.scorer.neighbors["content"]
        mask = np.zeros(len(state.item_ids), dtype=bool)
        for item in cart.tolist():
            columns, values = matrix.row(item)
            mask[columns[values > self.settings.cross_sell_max_similarity]] = True
        return mask

    def homepage(self, request: HomepageRequest, request_id: str) -> HomepageResponse:
        state = self._current()
        profile = self._profiles(state, [(request.user_id, request.anonymous_id)])[0]
        assignment = self._assign(state, "homepage", request.user_id, request.anonymous_id,
                                  profile)
        key = (state.version, "homepage", (request.user_id, request.anonymous_id),
               _stamp(profile), assignment.key if assignment else None, request.k)
        return self._cached(key, request_id, "homepage",
                            lambda: self._homepage(state, request, profile, assignment),
                            assignment, request)

    def _homepage(self, state: ModelState, request: HomepageRequest, profile: Profile | None,
                  assignment: Assignment | None) -> HomepageResponse:
        k = request.k
        visitor = self._visitor(state, request.user_id, request.anonymous_id, profile,
                                assignment)
        allowed = self._allowed(state, np.zeros(0, np.int64), visitor)
        carousels = []

        def add(carousel_id: str, title: str, candidates: Candidates, diverse: bool,
                tail: Candidates | None = None) -> None:
            chosen = self._select(candidates, allowed, k, state, diverse, tail)
            if len(chosen.items):
                allowed[chosen.items] = False  # an item appears in one carousel only
                carousels.append(Carousel(id=carousel_id, title=title,
                                          items=self._items(state, chosen)))

        if visitor.personal:
            add("picked_for_you", "Picked for you", self._personal(state, visitor), diverse=True,
                tail=self._trending(state))
            rows = self._rows(state, visitor)
            recent = self._most_recent_item(state, rows)
            if recent is not None:
                allowed[recent] = False  # "because you viewed X" never shows X again
                similar = self._neighbours(state, np.array([recent]), ("content", "copurchase"))
                add(f"because_you_viewed_{state.item_ids[recent]}",
                    f"Because you viewed {state.titles[recent]}", similar, diverse=False)
            favourite = rows.segment
        else:
            add("trending", "Trending now", self._trending(state), diverse=True)
            favourite = int(state.category_codes[state.trending_order[0]])
        category = str(state.categories[favourite])
        same = state.popularity_order[state.category_codes[state.popularity_order] == favourite]
        add(f"top_in_{_slug(category)}", f"Top in {category}",
            self._trending(state, same, state.bundle.model.index.popularity, source="segment"),
            diverse=False)
        return HomepageResponse(request_id="", model_version=state.version,
                                personalized=visitor.personal, fallback_reason=visitor.fallback,
                                carousels=carousels)

    @staticmethod
    def _most_recent_item(state: ModelState, rows: UserRows) -> int | None:
        items = rows.history[0]
        if len(items) == 0:
            return None
        days = np.zeros(len(state.item_ids), dtype=np.float32) + np.inf
        columns, values = rows.last_seen
        days[columns] = values
        return int(items[np.argmin(days[items])])

    def popular(self, request: PopularRequest, request_id: str) -> ItemsResponse:
        state = self._current()
        if request.category is not None and request.category not in state.category_index:
            raise LookupError404("category", f"category: unknown category {request.category!r}; "
                                             f"known: {sorted(state.category_index)}")
        if request.segment is not None and request.segment not in state.segment_scores:
            known = sorted(state.segment_scores) or "none (this model has no segments)"
            raise LookupError404("segment", f"segment: unknown segment {request.segment!r}; "
                                            f"known: {known}")
        key = (state.version, "popular", request.k, request.category, request.segment,
               tuple(sorted(set(request.exclude_item_ids))))
        return self._cached(key, request_id, "popular", lambda: self._popular(state, request))

    def _popular(self, state: ModelState, request: PopularRequest) -> ItemsResponse:
        unknown: list[str] = []
        excluded = state.resolve(request.exclude_item_ids, unknown)
        if request.segment is not None:
            scores = state.segment_scores[request.segment]
            order = np.argsort(-scores, kind="stable")
            order = order[scores[order] > 0]
            candidates = self._trending(state, order, scores, source=f"segment:{request.segment}")
            tail = self._trending(state)
        else:
            candidates, tail = self._trending(state), None
        if request.category is not None:
            code = state.category_index[request.category]
            candidates = candidates.where(state.category_codes[candidates.items] == code)
            tail = tail.where(state.category_codes[tail.items] == code) if tail else None
        chosen = self._select(candidates, self._allowed(state, excluded, None), request.k, state,
                              diverse=request.category is None, tail=tail)
        return ItemsResponse(request_id="", model_version=state.version, placement="popular",
                             personalized=False, unknown_item_ids=unknown,
                             items=self._items(state, chosen))

    # -- cache, metrics and logs -----------------------------------------------------------------

    def _cached(self, key: tuple, request_id: str, endpoint: str, compute,
                assignment: Assignment | None = None, request=None):
        started = time.perf_counter()
        answer = self.cache.get(key)
        hit = answer is not None
        if not hit:
            answer = compute()
            self.cache.put(key, answer)
        log: list[dict] = []
        answer = self._finish(key, request_id, endpoint, answer, hit, started, log, assignment,
                              request)
        log_answers(log)
        return answer

    def _finish(self, key: tuple, request_id: str, endpoint: str, answer, hit: bool,
                started: float, log: list[dict], assignment: Assignment | None = None,
                request=None):
        """The answer for this request (its id, whether cached, its experiment), counted, its
        exposure logged; its log line's fields appended to `log`."""
        self._counter("cache_hits" if hit else "cache_misses", endpoint=endpoint).inc()
        update = {"request_id": request_id, "cached": hit}
        if assignment is not None:
            update["experiment"], update["variant"] = assignment.key
        answer = answer.model_copy(update=update)
        if assignment is not None and self.exposures is not None:
            self._expose(assignment, request, endpoint, request_id, answer)
        if answer.fallback_reason is not None:
            self._counter("fallbacks", endpoint=endpoint, reason=answer.fallback_reason).inc()
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

    def _counter(self, name: str, **labels: str):
        """The labelled child of a metric, kept: prometheus_client's `labels()` costs
        microseconds per call."""
        key = (name, *labels.values())
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = getattr(self.metrics, name).labels(**labels)
        return child

    def user_hash(self, user_id: str) -> str:
        hashed = self._user_hashes.get(user_id)
        if hashed is None:
            if len(self._user_hashes) >= 100_000:  # bounded: a memo, not a user list
                self._user_hashes.clear()
            hashed = hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:16]
            self._user_hashes[user_id] = hashed
        return hashed


def _customer(user_id: str | None, profile: Profile | None) -> str | None:
    """The customer a request is for: its user_id, else the one an anonymous visitor was
    stitched to (their profile is the customer's)."""
    if user_id is None and profile is not None and profile.key.startswith("user:"):
        return profile.key[5:]
    return user_id


def _user_of_key(key: tuple, endpoint: str) -> str | None:
    """The customer, else the anonymous visitor, an answer was for (its log line hashes it)."""
    if endpoint not in ("recommend", "cross_sell", "homepage"):
        return None
    user_id, anonymous_id = key[2]
    return user_id or anonymous_id


def _stamp(profile: Profile | None) -> tuple | None:
    """What changes with every event a profile takes in: part of each answer's cache key, so a
    cached answer never hides a newer event."""
    return None if profile is None else (profile.key, profile.events, profile.last_at)


def _reason(state: ModelState, source: str, anchor: int, category: str) -> str:
    if source == "als":
        return "picked for you (als)"
    if source == "content":
        return (f"similar to {state.item_id_list[anchor]}" if anchor >= 0
                else "similar to your items")
    if source == "copurchase":
        return (f"bought together with {state.item_id_list[anchor]}" if anchor >= 0
                else "bought together with your items")
    if source == "repeat":
        return "you bought this before"
    if source == "segment":
        return f"popular in {category}"
    if source.startswith("segment:"):
        return f"popular with {source.split(':', 1)[1]} customers"
    return "trending"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


