"""The loaded model as serving holds it: `ModelState`, everything one model version needs to
answer (bundle, compiled scorer, consent, id maps, category and trending orders, segment scores),
and `ModelHolder`, its lifecycle: load, swap in a newer `tailor:latest`, re-read consent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ml.bundle import SEGMENTS_FILE, Bundle, load_bundle
from ml.candidates import AlsParams
from ml.consent import ConsentSnapshot, load_consent
from ml.online.live import LiveEvents, LiveRows, events_after
from ml.online.profile import Profile
from ml.online.profile_rules import ProfileRules, rules_for
from ml.online.scorer import OnlineScorer
from ml.schema import GUEST_PREFIX
from serving.answers.candidate_list import Candidates
from serving.logs import log_event
from serving.metrics import Metrics
from serving.settings import ServingSettings


@dataclass(frozen=True)
class ModelState:
    """Everything one model version needs to answer; never mutated after `load`, so a request keeps
    a consistent view by holding one reference."""

    tag: str
    folder: Path
    bundle: Bundle
    scorer: OnlineScorer
    consent: ConsentSnapshot
    item_index: dict[str, int]
    item_ids: np.ndarray
    item_id_list: list[str]  # item_ids, titles, category_names as lists: faster to index one by one
    title_list: list[str]
    category_name_list: list[str]
    titles: np.ndarray
    category_names: np.ndarray  # per item
    category_codes: np.ndarray  # per item
    categories: np.ndarray  # per code
    category_index: dict[str, int]
    in_stock: np.ndarray
    trending: np.ndarray
    trending_order: np.ndarray
    popularity_order: np.ndarray
    segment_scores: dict[str, np.ndarray]
    trending_candidates: Candidates  # the whole catalog by trending score (shared, read-only)
    profile_rules: ProfileRules  # how events change online profiles under this model
    live: LiveRows  # how a visitor's live events change their rows under this model

    @property
    def version(self) -> str:
        return self.bundle.version

    @classmethod
    def load(cls, folder: Path, tag: str, settings: ServingSettings) -> ModelState:
        bundle = load_bundle(folder)
        index = bundle.model.index
        catalog = index.catalog
        consent = load_consent(folder, settings.consent_path, settings.consent_default)
        scorer = OnlineScorer(bundle.model)
        rules = rules_for(bundle.metadata, dict(zip(
            catalog.item_ids.tolist(), np.asarray(catalog.category).tolist(), strict=True)))
        als = bundle.metadata.get("params", {}).get("als")
        if len(index.user_index):  # build the id -> index map now, not in the first request
            scorer.rank(next(iter(index.user_index.values())))  # and warm the scoring path
        return cls(
            tag=tag,
            folder=folder,
            bundle=bundle,
            scorer=scorer,
            consent=consent,
            item_index={item: i for i, item in enumerate(catalog.item_ids.tolist())},
            item_ids=catalog.item_ids,
            item_id_list=[str(i) for i in catalog.item_ids.tolist()],
            title_list=[str(t) for t in catalog.text["title"].tolist()],
            category_name_list=[str(c) for c in np.asarray(catalog.category).tolist()],
            titles=catalog.text["title"].to_numpy().astype(str),
            category_names=catalog.category,
            category_codes=index.category_codes,
            categories=index.categories,
            category_index={c: i for i, c in enumerate(index.categories.tolist())},
            in_stock=catalog.in_stock.astype(bool),
            trending=index.trending,
            trending_order=np.argsort(-index.trending, kind="stable"),
            popularity_order=np.argsort(-index.popularity, kind="stable"),
            segment_scores=_segment_scores(folder, index),
            trending_candidates=Candidates.ranked(index.trending, "trending"),
            profile_rules=rules,
            live=LiveRows(index, AlsParams(**als) if als else AlsParams(),
                          rules.half_life_s / 86_400),
        )

    def live_events(self, profile: Profile | None) -> LiveEvents | None:
        """The profile's events this model has not seen (after its cutoff, on its items)."""
        if profile is None:
            return None
        return events_after(profile.recent, self.live.cutoff, self.item_index,
                            self.profile_rules.weights)

    def customer_ids(self) -> list[str]:
        """Every customer the model knows (guest baskets are not customers): whom an export or a
        campaign addresses."""
        ids = self.bundle.model.index.user_ids.astype(str)
        return ids[~np.char.startswith(ids, GUEST_PREFIX)].tolist()

    def user(self, user_id: str) -> int | None:
        """Index of a user the model can personalize for (known, with a history)."""
        index = self.bundle.model.index
        user = index.user_index.get(user_id)
        if user is None or not index.has_history(user):
            return None
        return user

    def resolve(self, ids: list[str], unknown: list[str]) -> np.ndarray:
        if not ids:
            return _NO_ITEMS
        known = []
        for item_id in ids:
            i = self.item_index.get(item_id)
            if i is None:
                if item_id not in unknown:
                    unknown.append(item_id)
            else:
                known.append(i)
        return np.unique(np.asarray(known, dtype=np.int64))


_NO_ITEMS = np.zeros(0, dtype=np.int64)
_NO_ITEMS.flags.writeable = False


def _segment_scores(folder: Path, index) -> dict[str, np.ndarray]:
    """Per customer segment: the decayed engagement of its members with each item."""
    path = folder / SEGMENTS_FILE
    if not path.exists():
        return {}
    frame = pd.read_parquet(path, columns=["user_id", "segment"])
    users = frame["user_id"].astype(str).map(index.user_index)
    frame = frame.assign(user=users).dropna(subset=["user"])
    scores = {}
    for segment, members in frame.groupby("segment")["user"]:
        rows = members.to_numpy(dtype=np.int64)
        scores[str(segment)] = np.asarray(index.history[rows].sum(axis=0)).ravel()
    return scores


class ModelNotLoaded(Exception):
    """No model is loaded yet: the service answers 503."""


class ModelHolder:
    """The `ModelState` serving now, and how it changes: `load`, `reload_latest` (a newer
    `tailor:latest`), `refresh_consent` (a changed consent file). A new state is built beside the
    serving one and swapped in by one reference assignment, so requests in flight finish on the
    state they started with; `on_swap` callbacks drop what was derived from the old one."""

    def __init__(self, settings: ServingSettings, metrics: Metrics,
                 on_swap: Callable[[ModelState], None] = lambda state: None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.on_swap = on_swap
        self.state: ModelState | None = None
        self.load_error: str | None = None
        self._lock = threading.Lock()
        self._failed_tag: str | None = None
        self._consent_mtime: float | None = self._consent_file_mtime()

    def current(self) -> ModelState:
        state = self.state
        if state is None:
            raise ModelNotLoaded("the model is still loading")
        return state

    def load(self, folder: Path, tag: str) -> ModelState:
        state = ModelState.load(folder, tag, self.settings)
        self._swap(state)
        return state

    def _swap(self, state: ModelState) -> None:
        previous = self.state
        self.state = state  # one reference assignment: requests in flight keep their state
        self.on_swap(state)
        self.metrics.serving(state.version, state.tag,
                             (previous.version, previous.tag) if previous else None)
        log_event("model_loaded", model_version=state.version, model_tag=state.tag,
                  previous_version=previous.version if previous else None,
                  consent_source=state.consent.source, segments=sorted(state.segment_scores),
                  contender=state.scorer.source or "hybrid",
                  predictor=state.scorer.predict.path if state.scorer.predict else "source scores")

    def reload_latest(self, find_latest, force: bool = False) -> tuple[bool, str]:
        """Load `find_latest()` -> (tag, folder) if its tag differs from the serving one. A tag
        that failed to load is retried only when forced (POST /reload), not by every check."""
        with self._lock:
            tag, folder = find_latest()
            if self.state is not None and self.state.tag == tag:
                return False, tag
            if tag == self._failed_tag and not force:
                return False, tag
            previous = self.state.version if self.state else None
            try:
                self._swap(ModelState.load(Path(folder), tag, self.settings))
            except Exception as exc:
                self._failed_tag = tag
                self.metrics.reloads.labels(outcome="failed").inc()
                log_event("model_reload_failed", model_tag=tag, error=type(exc).__name__,
                          level=logging.ERROR)
                raise
            self._failed_tag = None
            self.metrics.reloads.labels(outcome="loaded").inc()
            log_event("model_reloaded", model_tag=tag, previous_version=previous)
            return True, tag

    def _consent_file_mtime(self) -> float | None:
        path = self.settings.consent_path
        return path.stat().st_mtime if path is not None and path.exists() else None

    def refresh_consent(self) -> bool:
        """Re-read the consent file of the settings when it changed (a customer who opts out is
        honoured within one check, not at the next model); the bundle's own snapshot is fixed."""
        with self._lock:
            state, mtime = self.state, self._consent_file_mtime()
            if state is None or mtime is None or mtime == self._consent_mtime:
                return False
            consent = load_consent(state.folder, self.settings.consent_path,
                                   self.settings.consent_default)
            self._consent_mtime = mtime
            if consent.source != str(self.settings.consent_path):
                return False  # the bundle carries its own snapshot, which wins
            self._swap(replace(state, consent=consent))
            return True
