"""How an event changes a visitor's online profile under one serving model: its items'
categories, its event-type weights and its decay half-life. They travel in the model's card
(`ml.challenger` records dbt's seed `event_type_weights` and `decay_half_life_days` there), so the
service and the stream workers apply exactly what the model was trained with, and nothing is read
from the repository at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.online.profile import Profile, apply_event

DEFAULT_HALF_LIFE_DAYS = 30.0  # dbt's default, for a card from before the half-life was recorded


@dataclass(frozen=True)
class ProfileRules:
    """What applying an event needs from the serving model: each item's category (unknown
    items: None), the event-type weights and the decay half-life."""

    category_of: Callable[[str], str | None]
    weights: dict[str, float]
    half_life_s: float

    def apply(self, profile: Profile, event: dict) -> Profile:
        return apply_event(profile, event, self.category_of(event["item_id"]), self.weights,
                           self.half_life_s)


def rules_for(card: dict | None, categories: dict[str, str],
              weights: dict[str, float] | None = None) -> ProfileRules:
    """The rules of a serving model: its card's event weights and half-life, its items'
    categories. `weights` stand in only where the card has none (no model promoted yet: the
    stream workers are given the warehouse's seed by orchestration)."""
    card = card or {}
    weights = card.get("event_weights") or weights
    if not weights:
        raise ValueError("model card: no event_weights (a bundle from before they were "
                         "recorded: promote a newly trained model)")
    days = card.get("data_window", {}).get("half_life_days", DEFAULT_HALF_LIFE_DAYS)
    return ProfileRules(categories.get, dict(weights), float(days) * 86_400)


def rules_from_bundle(folder: Path | None, weights: dict[str, float] | None = None
                      ) -> ProfileRules:
    """`rules_for` the bundle in `folder` (the promoted model, what the workers load); with no
    model yet, `weights` and no categories."""
    if folder is None:
        return rules_for(None, {}, weights)
    from ml.bundle import load_bundle

    bundle = load_bundle(folder)
    catalog = bundle.model.index.catalog
    return rules_for(bundle.metadata, dict(zip(catalog.item_ids.tolist(),
                                               catalog.category.tolist(), strict=True)), weights)
