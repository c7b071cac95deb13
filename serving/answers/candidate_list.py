"""`Candidates`: an ordered list of items with their scores, sources and anchors, what every
answer is selected from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
