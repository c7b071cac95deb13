"""The baselines of the serving benchmark: BentoML endpoints that do no work.

`Trivial` (the baseline of the targets) parses a small request body (`user_id`, `k`) and returns
a constant. `TrivialSameApi` has `Recommender.recommend`'s own request and response models and
returns a constant 10-item answer: the difference to the Recommender is then only computing the
answer. Both run with the Recommender's service settings (one worker unless TAILOR_SERVING_WORKERS
says otherwise, access log off, async API, frozen GC generations after start-up, the same GC
thresholds).

    bentoml serve trivial_service:Trivial --working-dir docs/benchmarks
"""

from __future__ import annotations

import gc

import bentoml
from pydantic import BaseModel, ConfigDict, Field

from serving import GC_THRESHOLDS
from serving.schemas import ItemsResponse, RecommendRequest
from serving.settings import environment


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=128)
    k: int = Field(10, ge=1, le=100)


class Answer(BaseModel):
    request_id: str
    items: list[str]


# A prebuilt pydantic model: BentoML's cheapest way to answer (a dict costs more: it is validated
# into a root model first), so the baseline is as fast as BentoML gets.
CONSTANT = Answer(request_id="constant", items=["i00000"])


# The Recommender's service settings (serving/service.py).
SETTINGS = dict(traffic={"timeout": 10},
                workers=environment().serving_workers,
                logging={"access": {"enabled": False}})


def settle_gc() -> None:
    """As the Recommender does after loading its model: what was imported leaves the cyclic GC's
    scans, and young objects are collected as rarely as there."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@bentoml.service(name="Trivial", **SETTINGS)
class Trivial:
    def __init__(self) -> None:
        settle_gc()

    @bentoml.api(input_spec=Request)
    async def recommend(self, **fields) -> Answer:
        return CONSTANT


# What the Recommender answers for a customer, prebuilt.
SAME_API_CONSTANT = ItemsResponse(
    request_id="constant", model_version="20261031-00000000", personalized=True,
    placement="homepage",
    items=[{"item_id": f"i{n:05d}", "title": "Dewdrop Hydrating Eye Cream", "score": 0.123456,
            "source": "copurchase",
            "reason": "bought together with i00235", "category": "fashion"} for n in range(10)])


@bentoml.service(name="TrivialSameApi", **SETTINGS)
class TrivialSameApi:
    def __init__(self) -> None:
        settle_gc()

    @bentoml.api(input_spec=RecommendRequest)
    async def recommend(self, **fields) -> ItemsResponse:
        return SAME_API_CONSTANT
