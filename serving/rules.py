"""Business rules applied to every list the service returns (their switches and thresholds are
`serving.settings.ServingSettings`):

- `exclude_out_of_stock`: items with `catalog.in_stock == False` never appear;
- `exclude_purchased`: items the user bought before never appear (personalized answers only; the
  candidates are then drawn without them, so the list stays full). Off by default: repeat-heavy
  shops (consumables) want them;
- `max_category_share`: in a list of k items, at most max(1, floor(share x k)) items of one
  top-level category (greedy in rank order; `top_in_<category>`, similar items and a per-category
  `popular` are single-category by design and exempt). When the candidates cannot meet the cap, the
  best skipped items fill the rest rather than returning fewer than k;
- `cross_sell_max_similarity`: cross-sell leaves out items whose content similarity to a cart item
  is above this (near-duplicates: another mug for a cart with a mug). Similarities are those of the
  bundle's top-`neighbors` content lists; an item outside a cart item's list counts as below.
"""

from __future__ import annotations

import numpy as np

from serving.settings import ServingSettings


def allowed_mask(n_items: int, in_stock: np.ndarray, excluded: np.ndarray | None,
                 settings: ServingSettings) -> np.ndarray:
    """Items any list may show: in stock (if the rule is on) and not excluded by the request."""
    allowed = in_stock.copy() if settings.exclude_out_of_stock else np.ones(n_items, dtype=bool)
    if excluded is not None and len(excluded):
        allowed[excluded] = False
    return allowed


def diversify(items: np.ndarray, categories: np.ndarray, k: int, max_share: float,
              relax: bool = True) -> np.ndarray:
    """Positions (into `items`) of the first k items, taken in order, with at most
    max(1, floor(max_share * k)) per category; if fewer than k qualify, skipped items fill up
    (`relax`) or fewer than k positions come back."""
    if max_share >= 1.0 or len(items) == 0:
        return np.arange(min(k, len(items)))
    cap = max(1, int(max_share * k))
    counts: dict[int, int] = {}
    chosen: list[int] = []
    skipped: list[int] = []
    for position, category in enumerate(categories[items].tolist()):
        if counts.get(category, 0) < cap:
            counts[category] = counts.get(category, 0) + 1
            chosen.append(position)
            if len(chosen) == k:
                break
        else:
            skipped.append(position)
    if len(chosen) < k and relax:
        chosen.extend(skipped[: k - len(chosen)])
    return np.asarray(chosen, dtype=np.int64)


