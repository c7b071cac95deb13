"""The Recommender's logic, without BentoML: `Engine` answers every endpoint's request from the
model serving now. The HTTP service (serving/service.py), the CLI (`tailor recommend`, `tailor
export-recommendations`) and tests all answer through it, so a user gets the same decision
(consent, fallback, business rules) whatever surface asks.

Each answer is the same few steps, each in its own module:

    state.ModelHolder          the model serving now (load, swap, reload, consent file)
    visitors.Visitors          the visitor's online profile, and whether the answer is personal
    experiment_arms            the visitor's arm in the experiment on the placement
    answers/<endpoint>.py      the cache key and the answer itself (answers/lists.py: shared steps)
    recording.AnswerRecorder   the cache, counters, exposure and log line of every answer
"""

from __future__ import annotations

from pathlib import Path

from serving.answers import cross_sell, homepage, popular, recommend, similar_items
from serving.answers.recommend import RecommendWork
from serving.cache import AnswerCache
from serving.experiment_arms import PublishedExperiments
from serving.metrics import Counters, Metrics
from serving.recording import AnswerRecorder
from serving.schemas import (
    CrossSellRequest,
    HomepageRequest,
    HomepageResponse,
    ItemsResponse,
    PopularRequest,
    RecommendRequest,
    SimilarItemsRequest,
)
from serving.settings import ServingSettings
from serving.state import ModelHolder, ModelState
from serving.visitors import ANYONE, Visitors


def engine_for(folder: Path, tag: str, settings: ServingSettings) -> Engine:
    """An engine serving the bundle in `folder` (what the CLI answers from)."""
    engine = Engine(settings)
    engine.load(folder, tag)
    return engine


class Engine:
    """Answers requests from the model `models` holds."""

    def __init__(self, settings: ServingSettings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics.disabled()
        self.cache = AnswerCache(settings.cache_size, settings.cache_ttl_s)
        counters = Counters(self.metrics)
        self.visitors = Visitors(counters)
        self.models = ModelHolder(settings, self.metrics, on_swap=self._swapped)
        self.published = PublishedExperiments(settings.experiments_path, self.cache.clear)
        self.recorder = AnswerRecorder(settings, self.cache, counters)

    def _swapped(self, state: ModelState) -> None:
        """Answers and live rows of the previous model go with it."""
        self.cache.clear()
        self.visitors.forget()

    # -- what the service, the CLI and tests read; they plug in the event stream's profile reads
    # (visitors.profiles), where exposures go (recorder.exposures) and, in benchmarks, the
    # running experiments (published.running) on the parts that own them

    @property
    def state(self) -> ModelState | None:
        return self.models.state

    @property
    def load_error(self) -> str | None:
        return self.models.load_error

    @load_error.setter
    def load_error(self, error: str | None) -> None:
        self.models.load_error = error

    def load(self, folder: Path, tag: str) -> ModelState:
        return self.models.load(folder, tag)

    def reload_latest(self, find_latest, force: bool = False) -> tuple[bool, str]:
        return self.models.reload_latest(find_latest, force)

    def refresh_consent(self) -> bool:
        return self.models.refresh_consent()

    def refresh_experiments(self) -> bool:
        return self.published.refresh()

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
        return recommend.prepare(self, requests)

    def complete_recommend(self, work: RecommendWork, scored) -> list[ItemsResponse]:
        return recommend.complete(self, work, scored)

    def similar_items(self, request: SimilarItemsRequest, request_id: str) -> ItemsResponse:
        state = self.models.current()
        item = similar_items.anchor(state, request)
        return self.recorder.answer(
            similar_items.key(state, request), request_id, "similar_items",
            lambda: similar_items.answer(state, self.settings, item, request))

    def cross_sell(self, request: CrossSellRequest, request_id: str) -> ItemsResponse:
        state = self.models.current()
        named = bool(request.user_id or request.anonymous_id)
        profile = (self.visitors.read_one(state, request.user_id, request.anonymous_id)
                   if named else None)

        def compute() -> ItemsResponse:
            visitor = (self.visitors.resolve(state, request.user_id, request.anonymous_id,
                                             profile) if named else ANYONE)
            return cross_sell.answer(state, self.settings, request, visitor)

        return self.recorder.answer(cross_sell.key(state, request, profile), request_id,
                                    "cross_sell", compute)

    def homepage(self, request: HomepageRequest, request_id: str) -> HomepageResponse:
        state = self.models.current()
        profile = self.visitors.read_one(state, request.user_id, request.anonymous_id)
        assignment = self.published.assignment(state, "homepage", request.user_id,
                                               request.anonymous_id, profile)

        def compute() -> HomepageResponse:
            visitor = self.visitors.resolve(state, request.user_id, request.anonymous_id,
                                            profile, assignment)
            return homepage.answer(state, self.settings, request, visitor)

        return self.recorder.answer(homepage.key(state, request, profile, assignment),
                                    request_id, "homepage", compute, assignment, request)

    def popular(self, request: PopularRequest, request_id: str) -> ItemsResponse:
        state = self.models.current()
        popular.check(state, request)
        return self.recorder.answer(popular.key(state, request), request_id, "popular",
                                    lambda: popular.answer(state, self.settings, request))
