"""The list operations every answer is built from: trending and neighbour candidates, the
visitor's ranking, what a list may show (serving/rules.py), the first k of it, and the items'
fields with their reasons."""

from __future__ import annotations

import re

import numpy as np

from ml.online.scorer import Ranked
from ml.ranking.hybrid import scores_below
from serving.answers.candidate_list import Candidates
from serving.rules import allowed_mask, diversify
from serving.settings import ServingSettings
from serving.state import ModelState
from serving.visitors import Visitor


def allowed(state: ModelState, settings: ServingSettings, excluded: np.ndarray,
            visitor: Visitor | None) -> np.ndarray:
    """Items a list may show: the rules', less the request's exclusions (and, with
    exclude_purchased, what a personal answer's visitor bought)."""
    mask = allowed_mask(len(state.item_ids), state.in_stock, excluded, settings)
    if visitor is not None and visitor.personal and settings.exclude_purchased:
        mask[visitor.rows(state).purchase_counts[0]] = False
    return mask


def select(candidates: Candidates, allowed: np.ndarray, k: int, state: ModelState,
           settings: ServingSettings, diverse: bool, tail: Candidates | None = None
           ) -> Candidates:
    """The first k allowed candidates (diversified), continued by `tail` (scored below them)
    only when they fall short: the same k as selecting from `candidates.then(tail)`, without
    building that catalog-long list for most requests."""
    picked = candidates.where(allowed[candidates.items])
    if diverse:
        positions = diversify(picked.items, state.category_codes, k,
                              settings.max_category_share, relax=tail is None)
    else:
        positions = np.arange(min(k, len(picked.items)))
    if len(positions) < k and tail is not None:
        return select(candidates.then(below(candidates, tail)), allowed, k, state, settings,
                      diverse)
    return picked.take(positions)


def trending(state: ModelState, order: np.ndarray | None = None,
             scores: np.ndarray | None = None, source: str = "trending") -> Candidates:
    """The catalog by trending score; or `order` scored by `scores` (default: trending)."""
    if order is None and scores is None:
        return state.trending_candidates
    order = state.trending_order if order is None else order
    scores = state.trending if scores is None else scores
    return Candidates(order, scores[order].astype(np.float64),
                      np.full(len(order), source, dtype=object),
                      np.full(len(order), -1, dtype=np.int64))


def top_in_category(state: ModelState, code: int) -> Candidates:
    """The items of one category by popularity (source `segment`)."""
    same = state.popularity_order[state.category_codes[state.popularity_order] == code]
    return trending(state, same, state.bundle.model.index.popularity, source="segment")


def below(head: Candidates, tail: Candidates) -> Candidates:
    """`tail` re-scored below everything in `head` (`ml.ranking.hybrid.scores_below`, as the
    model's padding is). Scored by position in the whole tail, before `then` drops what `head`
    holds, so not `pad_with_trending`, which scores only the items it adds."""
    return Candidates(tail.items, scores_below(head.scores, len(tail.items)), tail.sources,
                      tail.anchors)


def neighbours(state: ModelState, anchors: np.ndarray, sources: tuple[str, ...]) -> Candidates:
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


def personal(state: ModelState, settings: ServingSettings, visitor: Visitor,
             ranked: Ranked | None = None) -> Candidates:
    """The visitor's own ranking by the model (`ranked` when the batch already scored it)."""
    if ranked is None:
        ranked = state.scorer.rank_many([visitor.user], settings.exclude_purchased,
                                        [visitor.live])[0]
    return Candidates(ranked.items, ranked.scores.astype(np.float64), ranked.sources,
                      ranked.anchors)


def items(state: ModelState, chosen: Candidates) -> list[dict]:
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
                    "reason": reason(state, source, anchor, category),
                    "category": category})
    return out


def reason(state: ModelState, source: str, anchor: int, category: str) -> str:
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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"
