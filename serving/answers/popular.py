"""/popular: trending items overall or in a category, or popular within a customer segment.
Not personal."""

from __future__ import annotations

import numpy as np

from serving.answers import LookupError404, id_set, lists
from serving.schemas import ItemsResponse, PopularRequest
from serving.settings import ServingSettings
from serving.state import ModelState


def check(state: ModelState, request: PopularRequest) -> None:
    """404 for a category or segment this model does not know."""
    if request.category is not None and request.category not in state.category_index:
        raise LookupError404("category", f"category: unknown category {request.category!r}; "
                                         f"known: {sorted(state.category_index)}")
    if request.segment is not None and request.segment not in state.segment_scores:
        known = sorted(state.segment_scores) or "none (this model has no segments)"
        raise LookupError404("segment", f"segment: unknown segment {request.segment!r}; "
                                        f"known: {known}")


def key(state: ModelState, request: PopularRequest) -> tuple:
    return (state.version, "popular", request.k, request.category, request.segment,
            id_set(request.exclude_item_ids))


def answer(state: ModelState, settings: ServingSettings, request: PopularRequest
           ) -> ItemsResponse:
    unknown: list[str] = []
    excluded = state.resolve(request.exclude_item_ids, unknown)
    if request.segment is not None:
        scores = state.segment_scores[request.segment]
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] > 0]
        candidates = lists.trending(state, order, scores, source=f"segment:{request.segment}")
        tail = lists.trending(state)
    else:
        candidates, tail = lists.trending(state), None
    if request.category is not None:
        code = state.category_index[request.category]
        candidates = candidates.where(state.category_codes[candidates.items] == code)
        tail = tail.where(state.category_codes[tail.items] == code) if tail else None
    chosen = lists.select(candidates, lists.allowed(state, settings, excluded, None), request.k,
                          state, settings, diverse=request.category is None, tail=tail)
    return ItemsResponse(request_id="", model_version=state.version, placement="popular",
                         personalized=False, unknown_item_ids=unknown,
                         items=lists.items(state, chosen))
