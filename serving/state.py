"""The loaded model as serving holds it: `ModelState`, everything one model version needs to
answer (bundle, compiled scorer, consent, id maps, category and trending orders, segment scores),
and `Candidates`, the ordered item lists the engine's answers are built from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml.bundle import SEGMENTS_FILE, Bundle, load_bundle
from ml.candidates import AlsParams
from ml.consent import ConsentSnapshot, load_consent
from ml.online.live import LiveEvents, LiveRows, events_after
from ml.online.profile import Profile
from ml.online.scorer import OnlineScorer
from ml.schema import GUEST_PREFIX
from serving.rules import ServingSettings
from serving.stream.profiles import ProfileRules, rules_for


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


@dataclass
class Candidates:
    """An ordered list of item indices with score, source and (optional) anchor item per entry."""

    items: np.ndarray
    scores: np.ndarray
    sources: np.ndarray
    anchors: np.ndarray

    @classmethod
    def ranked(cls, scores: np.ndarray, source: str) -> Candidates:
        order = np.argsort(-scores, kind="stable")
        return cls(order, scores[order].astype(np.float64), np.full(len(order), source, object),
                   np.full(len(order), -1, dtype=np.int64))

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, dtype=object),
                   np.zeros(0, np.int64))

    def then(self, other: Candidates) -> Candidates:
        """This list followed by the entries of `other` not already in it."""
        fresh = (~np.isin(other.items, self.items, kind="table") if len(self.items)
                 else np.ones(len(other.items), dtype=bool))
        return Candidates(np.concatenate([self.items, other.items[fresh]]),
                          np.concatenate([self.scores, other.scores[fresh]]),
                          np.concatenate([self.sources, other.sources[fresh]]),
                          np.concatenate([self.anchors, other.anchors[fresh]]))

    def take(self, positions: np.ndarray) -> Candidates:
        return Candidates(self.items[positions], self.scores[positions],
                          self.sources[positions], self.anchors[positions])

    def where(self, mask: np.ndarray) -> Candidates:
        return self.take(np.flatnonzero(mask))
