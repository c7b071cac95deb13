"""/recommend: a visitor's recommendations on a placement. Personal: the model's ranking (with
their live events); otherwise what relates to the items on screen (cart, viewed), else trending.

Answered in batches: `prepare` reads the profiles, assigns arms, looks up the cache and decides
who needs the ranker; `RecommendWork.score` is one candidate pass and one booster call for all of
them (the service runs it on its booster thread: serving/batching.py); `complete` builds the
answers from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ml.experiments.assignment import Assignment
from ml.online.profile import Profile
from ml.online.scorer import CandidateBatch, Ranked
from serving.answers import id_set, lists
from serving.logs import log_answers
from serving.schemas import ItemsResponse, RecommendRequest
from serving.settings import ServingSettings
from serving.state import ModelState
from serving.visitors import Visitor, stamp

if TYPE_CHECKING:
    from serving.engine import Engine


@dataclass(frozen=True)
class RecommendWork:
    """A batch of recommend requests between `prepare` and `complete`: `score()`, the ranker's
    pass over the candidates of `users`, is the only step left between them."""

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


def prepare(engine: Engine, requests: list[tuple[RecommendRequest, str]]) -> RecommendWork:
    """Profiles, arms, cache look-ups, and who of the requests the cache does not answer gets a
    personal answer."""
    started = time.perf_counter()
    state = engine.models.current()
    profiles = engine.visitors.read(state, [(r.user_id, r.anonymous_id) for r, _ in requests])
    assignments = [engine.published.assignment(state, request.placement, request.user_id,
                                                request.anonymous_id, profile)
                   for (request, _), profile in zip(requests, profiles, strict=True)]
    keys = [key(state, request, profile, assignment)
            for (request, _), profile, assignment in zip(requests, profiles, assignments,
                                                         strict=True)]
    cached = [engine.cache.get(k) for k in keys]
    who, slots, users, live = {}, {}, [], []
    for i, ((request, _), profile) in enumerate(zip(requests, profiles, strict=True)):
        if cached[i] is not None:
            continue
        assignment = assignments[i]
        same = (request.user_id, request.anonymous_id, stamp(profile),
                assignment.key if assignment else None)
        if same not in slots:  # the same visitor twice in a batch: ranked once
            visitor = engine.visitors.resolve(state, request.user_id, request.anonymous_id,
                                              profile, assignment)
            slots[same] = (visitor, len(users) if visitor.personal else None)
            if visitor.personal:
                users.append(visitor.user)
                live.append(visitor.live)
        who[i] = slots[same]
    return RecommendWork(requests, started, state, keys, cached, who, assignments, users, live,
                         engine.settings.exclude_purchased)


def complete(engine: Engine, work: RecommendWork,
             scored: tuple[CandidateBatch, np.ndarray] | None) -> list[ItemsResponse]:
    """The answers, from `work.score()` (None when `work.users` is empty)."""
    state = work.state
    ranked = state.scorer.ranked(*scored) if work.users else []
    answers, log = [], []
    for i, ((request, request_id), k) in enumerate(zip(work.requests, work.keys, strict=True)):
        result, hit = work.cached[i], work.cached[i] is not None
        if not hit:
            visitor, slot = work.who[i]
            result = answer(state, engine.settings, request, visitor,
                            ranked[slot] if slot is not None else None)
            engine.cache.put(k, result)
        answers.append(engine.recorder.finish(k, request_id, "recommend", result, hit,
                                              work.started, log, work.assignments[i], request))
    log_answers(log)
    return answers


def key(state: ModelState, request: RecommendRequest, profile: Profile | None,
        assignment: Assignment | None) -> tuple:
    context = request.context
    return (state.version, "recommend", (request.user_id, request.anonymous_id), stamp(profile),
            assignment.key if assignment else None, request.placement, request.k,
            id_set(context.viewed_item_ids), id_set(context.cart_item_ids),
            id_set(request.exclude_item_ids))


def answer(state: ModelState, settings: ServingSettings, request: RecommendRequest,
           visitor: Visitor, ranked: Ranked | None) -> ItemsResponse:
    unknown: list[str] = []
    viewed = state.resolve(request.context.viewed_item_ids, unknown)
    cart = state.resolve(request.context.cart_item_ids, unknown)
    excluded = np.concatenate([viewed, cart, state.resolve(request.exclude_item_ids, unknown)])
    tail = lists.trending(state)
    if visitor.personal:
        candidates = lists.personal(state, settings, visitor, ranked)
    elif len(cart) or len(viewed):
        # Not personal: what relates to the items in front of the visitor, then trending.
        sources = ("copurchase", "content") if len(cart) else ("content", "copurchase")
        candidates = lists.neighbours(state, np.union1d(cart, viewed), sources)
    else:
        candidates, tail = lists.trending(state), None
    chosen = lists.select(candidates, lists.allowed(state, settings, excluded, visitor),
                          request.k, state, settings, diverse=True, tail=tail)
    return ItemsResponse(request_id="", model_version=state.version,
                         placement=request.placement, personalized=visitor.personal,
                         fallback_reason=visitor.fallback, unknown_item_ids=unknown,
                         items=lists.items(state, chosen))
