"""/cross_sell: complements of a cart (bought together with its items), without near-duplicates
of them, then the visitor's own ranking (else trending)."""

from __future__ import annotations

import numpy as np

from ml.online.profile import Profile
from serving.answers import id_set, lists
from serving.answers.candidate_list import Candidates
from serving.schemas import CrossSellRequest, ItemsResponse
from serving.settings import ServingSettings
from serving.state import ModelState
from serving.visitors import Visitor, stamp


def key(state: ModelState, request: CrossSellRequest, profile: Profile | None) -> tuple:
    return (state.version, "cross_sell", (request.user_id, request.anonymous_id), stamp(profile),
            request.k, id_set(request.cart_item_ids), id_set(request.exclude_item_ids))


def answer(state: ModelState, settings: ServingSettings, request: CrossSellRequest,
           visitor: Visitor) -> ItemsResponse:
    unknown: list[str] = []
    cart = state.resolve(request.cart_item_ids, unknown)
    excluded = np.concatenate([cart, state.resolve(request.exclude_item_ids, unknown)])
    personal = visitor.personal and (visitor.user >= 0 or visitor.live is not None)
    allowed = lists.allowed(state, settings, excluded, visitor if personal else None)
    if len(cart):
        allowed &= ~_near_duplicates(state, settings, cart)
    head = (lists.neighbours(state, cart, ("copurchase",)) if len(cart)
            else Candidates.empty())
    # after what the cart suggests: the visitor's own ranking, else trending
    tail = (lists.personal(state, settings, visitor).then(lists.trending(state)) if personal
            else lists.trending(state))
    chosen = lists.select(head, allowed, request.k, state, settings, diverse=True, tail=tail)
    return ItemsResponse(request_id="", model_version=state.version, placement="cross_sell",
                         personalized=personal, fallback_reason=visitor.fallback,
                         unknown_item_ids=unknown, items=lists.items(state, chosen))


def _near_duplicates(state: ModelState, settings: ServingSettings,
                     cart: np.ndarray) -> np.ndarray:
    matrix = state.scorer.neighbors["content"]
    mask = np.zeros(len(state.item_ids), dtype=bool)
    for item in cart.tolist():
        columns, values = matrix.row(item)
        mask[columns[values > settings.cross_sell_max_similarity]] = True
    return mask
