"""The experiments a worker applies: the file the `experiment_registry` asset publishes
(settings.experiments_path), re-read when it changes, and each request's arm in the one running
on its placement (ml/experiments/assignment.py decides it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ml.experiments.assignment import Assignment, Running, assign, read_published
from ml.online.profile import Profile
from serving.logs import log_event
from serving.state import ModelState
from serving.visitors import customer_of


class PublishedExperiments:
    def __init__(self, path: Path | None, on_change: Callable[[], None]) -> None:
        self.path = path
        self.on_change = on_change  # answers carry their arm: cached ones go with the file
        self.running = Running()
        self._mtime: float | None = None
        self.refresh()

    def refresh(self) -> bool:
        """Re-read the file when it changed. A file that cannot be read leaves the experiments
        as they were (logged)."""
        path = self.path
        mtime = path.stat().st_mtime if path is not None and path.exists() else None
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            self.running = read_published(path) if mtime is not None else Running()
        except Exception as exc:  # a broken file: keep the experiments we had, say why
            log_event("experiments_load_failed", error=f"{type(exc).__name__}: {exc}"[:500],
                      level=logging.ERROR)
            return False
        self.on_change()
        log_event("experiments_loaded", version=self.running.version,
                  running=self.running.names(datetime.utcnow()))
        return True

    def assignment(self, state: ModelState, placement: str, user_id: str | None,
                   anonymous_id: str | None, profile: Profile | None) -> Assignment | None:
        """The visitor's arm on `placement`, or None (no experiment runs there)."""
        if not self.running:
            return None
        customer = customer_of(user_id, profile)
        return assign(self.running, placement, datetime.utcnow(), user_id, anonymous_id,
                      profile.stitched if profile is not None else (),
                      state.consent.allows(customer or anonymous_id))
