"""/similar_items: content neighbours of an item, then items bought with it, then the most
popular of its category. Not personal."""

from __future__ import annotations

import numpy as np

from serving.answers import LookupError404, id_set, lists
from serving.schemas import ItemsResponse, SimilarItemsRequest
from serving.settings import ServingSettings
from serving.state import ModelState


def anchor(state: ModelState, request: SimilarItemsRequest) -> int:
    item = state.item_index.get(request.item_id)
    if item is None:
        raise LookupError404("item_id", f"item_id: unknown item {request.item_id!r}")
    return item


def key(state: ModelState, request: SimilarItemsRequest) -> tuple:
    return (state.version, "similar_items", request.item_id, request.k,
            id_set(request.exclude_item_ids))


def answer(state: ModelState, settings: ServingSettings, item: int,
           request: SimilarItemsRequest) -> ItemsResponse:
    unknown: list[str] = []
    excluded = np.append(state.resolve(request.exclude_item_ids, unknown), item)
    head = lists.neighbours(state, np.array([item]), ("content", "copurchase"))
    tail = lists.top_in_category(state, state.category_codes[item])
    chosen = lists.select(head, lists.allowed(state, settings, excluded, None), request.k, state,
                          settings, diverse=False, tail=tail)
    return ItemsResponse(request_id="", model_version=state.version, placement="similar_items",
                         personalized=False, unknown_item_ids=unknown,
                         items=lists.items(state, chosen))
