"""Business rules of the Recommender service, its settings, and the answer cache.

Settings (`ServingSettings`) come from, in increasing priority:
1. the defaults below;
2. a JSON or TOML file named by `TAILOR_SERVING_CONFIG` (keys = field names, e.g.
   `{"exclude_purchased": true, "max_category_share": 0.4}`);
3. one environment variable per field, `TAILOR_SERVING_<FIELD NAME IN CAPITALS>`, e.g.
   `TAILOR_SERVING_EXCLUDE_PURCHASED=true`, `TAILOR_SERVING_CACHE_TTL_S=30`;
4. `TAILOR_CONSENT_PATH`: the consent file used when the bundle has no `consent.parquet` (re-read
   by every worker within `reload_check_interval_s` when it changes);
5. `TAILOR_EXPERIMENTS_PATH`: the experiments the `experiment_registry` asset published
   (re-read the same way; `tailor serve` sets it to the home's).
`TAILOR_SERVING_WORKERS` (BentoML worker processes, default 1) is read by serving/service.py, as
the `@bentoml.service` decorator needs it at import. `load_settings()` is otherwise the only place
serving reads the environment. Invalid values stop the service at start-up with a message naming
the variable.

The answer cache lives in each worker process (no shared state between workers).

Rules, applied to every list the service returns:
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

import json
import os
import threading
import time
import tomllib
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "TAILOR_SERVING_"
CONFIG_ENV = "TAILOR_SERVING_CONFIG"
CONSENT_ENV = "TAILOR_CONSENT_PATH"
EXPERIMENTS_ENV = "TAILOR_EXPERIMENTS_PATH"


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exclude_out_of_stock: bool = True
    exclude_purchased: bool = False
    max_category_share: float = Field(0.5, gt=0.0, le=1.0)
    cross_sell_max_similarity: float = Field(0.5, ge=0.0, le=1.0)
    cache_size: int = Field(10_000, ge=0, description="answers kept (LRU); 0 turns caching off")
    cache_ttl_s: float = Field(60.0, ge=0.0, description="seconds an answer may be reused")
    consent_default: bool = Field(True, description="consent of users with no recorded choice")
    consent_path: Path | None = None
    experiments_path: Path | None = None
    reload_check_interval_s: float = Field(
        10.0, ge=0.0, description="how often each worker looks for a newer tailor:latest; 0 = only "
                                  "on POST /reload")
    request_logs: bool = Field(True, description="one JSON log line per answer (no user ids)")
    log_salt: str = Field("", description="salt of the user hash in logs; empty = a random salt "
                                          "per process (hashes cannot be joined across restarts)")
    admin_token: str = Field("", description="if set, POST /reload needs header X-Admin-Token")


def load_settings(environ: Mapping[str, str] | None = None) -> ServingSettings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path := environ.get(CONFIG_ENV):
        text = Path(path).read_text()
        values.update(tomllib.loads(text) if path.endswith(".toml") else json.loads(text))
    for name in ServingSettings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            values[name] = environ[key]
    if environ.get(CONSENT_ENV):
        values["consent_path"] = environ[CONSENT_ENV]
    if environ.get(EXPERIMENTS_ENV):
        values["experiments_path"] = environ[EXPERIMENTS_ENV]
    try:
        return ServingSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"serving settings: {problems}") from None


# -- rules -----------------------------------------------------------------------------------------


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


# -- cache -----------------------------------------------------------------------------------------


class AnswerCache:
    """LRU with a time to live, safe across threads. Keys start with the model version, so an
    answer of an older model is never found once a newer model serves (and `clear` runs on every
    reload anyway)."""

    def __init__(self, size: int, ttl_s: float, clock=time.monotonic) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.ttl_s > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
