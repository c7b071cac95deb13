"""Which arm of the experiment running on a placement a visitor gets, as the service decides it
for every answer.

Assignment (`Assigner.arm`) is a pure function of (salt, unit): the first 8 bytes of
BLAKE2b(salt:unit) as a number in [0, 1), cut by the cumulative weights. The same visitor gets
the same arm in every request, worker and restart, and an experiment with a new salt reshuffles
everyone. The unit is the visitor (`unit_of`): the first anonymous visitor stitched to the
customer, else the request's anonymous id, else the customer id, so an anonymous visitor keeps
the arm when they sign in. Visitors without personalization consent get no arm (`assign`).
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ml.consent import NO_CONSENT
from ml.experiments.design import Definitions, Experiment, parse_definitions


@dataclass(frozen=True)
class Assignment:
    """A request's place in the experiment running on its placement."""

    experiment: str
    variant: str | None  # None: left out of the experiment (`excluded` says why)
    unit: str  # the randomization unit (unit_of)
    serves: str  # personalized | trending
    excluded: str | None  # no_consent: such visitors get what they always get, and no arm

    @property
    def key(self) -> tuple:
        return (self.experiment, self.variant)


SCALE = 2 ** 64


def bucket(salt: str, unit: str) -> int:
    """The visitor's position in [0, 2^64): BLAKE2b, so stable across processes and Pythons
    (unlike `hash()`, which is salted per process)."""
    return int.from_bytes(hashlib.blake2b(f"{salt}:{unit}".encode(), digest_size=8).digest(),
                          "big")


def unit_of(user_id: str | None, anonymous_id: str | None,
            stitched: tuple[str, ...] = ()) -> str:
    """The randomization unit: the first anonymous visitor stitched to the customer (profile
    key "anon:<id>"), else the request's anonymous id, else the customer id."""
    if stitched:
        return stitched[0]
    if anonymous_id:
        return f"anon:{anonymous_id}"
    return f"user:{user_id}"


class Assigner:
    """The arm of a unit in one experiment; thresholds precomputed (a request pays one hash)."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.names = [v.name for v in experiment.variants]
        self.serves = {v.name: v.serves for v in experiment.variants}
        cumulative, running = [], 0.0
        for weight in experiment.weights()[:-1]:
            running += weight
            cumulative.append(int(running * SCALE))
        self._thresholds = cumulative

    def arm(self, unit: str) -> str:
        return self.names[bisect_right(self._thresholds, bucket(self.experiment.salt, unit))]


class Running:
    """The experiments the service applies: per placement, the one running at a given time."""

    def __init__(self, definitions: Definitions | None = None, version: str = "") -> None:
        definitions = definitions or Definitions()
        self.version = version
        self.assigners: dict[str, list[Assigner]] = {}
        for experiment in definitions.experiments:
            self.assigners.setdefault(experiment.placement, []).append(Assigner(experiment))

    def at(self, placement: str, now: datetime) -> Assigner | None:
        for assigner in self.assigners.get(placement, ()):
            if assigner.experiment.running(now):
                return assigner
        return None

    def names(self, now: datetime) -> list[str]:
        return sorted(a.experiment.name for group in self.assigners.values() for a in group
                      if a.experiment.running(now))

    def __bool__(self) -> bool:
        return bool(self.assigners)


def assign(running: Running, placement: str, now: datetime, user_id: str | None,
           anonymous_id: str | None, stitched: tuple[str, ...], consents: bool
           ) -> Assignment | None:
    """The visitor's arm in the experiment running on `placement` (one hash), or None when none
    runs there. `stitched`: the anonymous visitors their profile merged; `consents`: whether the
    visitor allows personalization (else: left out, with no arm)."""
    if not running:
        return None
    assigner = running.at(placement, now)
    if assigner is None:
        return None
    unit = unit_of(user_id, anonymous_id, stitched)
    name = assigner.experiment.name
    if not consents:
        return Assignment(name, None, unit, "personalized", NO_CONSENT)
    variant = assigner.arm(unit)
    return Assignment(name, variant, unit, assigner.serves[variant], None)


def read_published(path: Path) -> Running:
    data = json.loads(path.read_text())
    version = data.pop("version", "")
    return Running(parse_definitions(data, str(path)), version)
