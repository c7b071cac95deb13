"""/homepage: carousels. Personal: picked_for_you, because_you_viewed_<item> (neighbours of the
latest item seen), top_in_<favourite category>; otherwise trending and top_in_<the top trending
item's category>. An item appears in one carousel only."""

from __future__ import annotations

import numpy as np

from ml.experiments.assignment import Assignment
from ml.online.live import UserRows
from ml.online.profile import Profile
from serving.answers import lists
from serving.answers.candidate_list import Candidates
from serving.schemas import Carousel, HomepageRequest, HomepageResponse
from serving.settings import ServingSettings
from serving.state import ModelState
from serving.visitors import Visitor, stamp


def key(state: ModelState, request: HomepageRequest, profile: Profile | None,
        assignment: Assignment | None) -> tuple:
    return (state.version, "homepage", (request.user_id, request.anonymous_id), stamp(profile),
            assignment.key if assignment else None, request.k)


def answer(state: ModelState, settings: ServingSettings, request: HomepageRequest,
           visitor: Visitor) -> HomepageResponse:
    k = request.k
    allowed = lists.allowed(state, settings, np.zeros(0, np.int64), visitor)
    carousels = []

    def add(carousel_id: str, title: str, candidates: Candidates, diverse: bool,
            tail: Candidates | None = None) -> None:
        chosen = lists.select(candidates, allowed, k, state, settings, diverse, tail)
        if len(chosen.items):
            allowed[chosen.items] = False  # an item appears in one carousel only
            carousels.append(Carousel(id=carousel_id, title=title,
                                      items=lists.items(state, chosen)))

    if visitor.personal:
        add("picked_for_you", "Picked for you", lists.personal(state, settings, visitor),
            diverse=True, tail=lists.trending(state))
        rows = visitor.rows(state)
        recent = _most_recent_item(state, rows)
        if recent is not None:
            allowed[recent] = False  # "because you viewed X" never shows X again
            similar = lists.neighbours(state, np.array([recent]), ("content", "copurchase"))
            add(f"because_you_viewed_{state.item_ids[recent]}",
                f"Because you viewed {state.titles[recent]}", similar, diverse=False)
        favourite = rows.segment
    else:
        add("trending", "Trending now", lists.trending(state), diverse=True)
        favourite = int(state.category_codes[state.trending_order[0]])
    category = str(state.categories[favourite])
    add(f"top_in_{lists.slug(category)}", f"Top in {category}",
        lists.top_in_category(state, favourite), diverse=False)
    return HomepageResponse(request_id="", model_version=state.version,
                            personalized=visitor.personal, fallback_reason=visitor.fallback,
                            carousels=carousels)


def _most_recent_item(state: ModelState, rows: UserRows) -> int | None:
    items = rows.history[0]
    if len(items) == 0:
        return None
    days = np.zeros(len(state.item_ids), dtype=np.float32) + np.inf
    columns, values = rows.last_seen
    days[columns] = values
    return int(items[np.argmin(days[items])])
