"""The baseline of the serving benchmark: a BentoML endpoint that does no work.

It parses the same request body as `Recommender.recommend` (a pydantic model) and returns a
constant, with the same service settings (one worker unless TAILOR_SERVING_WORKERS says otherwise,
access log off, async API, frozen GC generations after start-up), so the difference to the
Recommender is the recommendation itself.

    bentoml serve trivial_service:Trivial --working-dir docs/benchmarks
"""

from __future__ import annotations

import gc
import os

import bentoml
from pydantic import BaseModel, ConfigDict, Field


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


@bentoml.service(
    name="Trivial",
    traffic={"timeout": 10},
    workers=int(os.environ.get("TAILOR_SERVING_WORKERS", "1")),
    logging={"access": {"enabled": False}},
)
class Trivial:
    def __init__(self) -> None:
        # As the Recommender does after loading its model: what was imported leaves the cyclic
        # GC's scans, so neither service pays long collection pauses.
        gc.collect()
        gc.freeze()

    @bentoml.api(input_spec=Request)
    async def recommend(self, **fields) -> Answer:
        return CONSTANT
