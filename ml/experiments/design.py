"""Experiments as data: what an experiment is, the file that defines a shop's experiments, the
edits a started experiment refuses, and the file published for the service.

The definitions file (`<TAILOR_HOME>/experiments.yaml` unless told otherwise) is meant to be kept
in the shop's version control; `tailor experiment create|stop` edit it, the `experiment_registry`
asset checks it against every version the warehouse holds and publishes what the service reads.

    experiments:
      - name: homepage-carousel-2026-12
        placement: homepage
        salt: 3f9c...                      # made by `create`; never changes once started
        variants:
          - {name: control, weight: 50, serves: trending}
          - {name: treatment, weight: 50, serves: personalized}
        primary_kpi: conversion
        guardrails: [revenue_per_visitor, session_length]
        start_at: 2026-12-02T00:00:00
        end_at: null                       # set by `tailor experiment stop`
        planned_visitors: 24000            # per arm, from the power calculation (planning:)

Which arm a visitor gets: ml/experiments/assignment.py.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

PLACEMENTS = ("homepage", "product_page", "cart", "email")
# What an arm serves: the served model's answers, or the non-personalized ones of the same
# service and code path (trending, or items related to those on screen) that unknown visitors get.
SERVES = ("personalized", "trending")
# Per-visitor KPIs (ml/experiments/analysis.py computes them; statistics.py tests them).
KPIS = ("conversion", "click_through", "ctr_per_exposure", "ctr_per_impression",
        "revenue_per_visitor", "average_order_value", "session_length")
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")]
DEFAULT_ATTRIBUTION_HOURS = 24.0
# What a started experiment keeps: changing them would move visitors between arms or change the
# question after seeing answers. `end_at` and `description` may change.
FROZEN_WHEN_STARTED = ("placement", "salt", "variants", "primary_kpi", "guardrails", "start_at",
                       "planned_visitors", "attribution_hours", "holdback")


class DefinitionError(ValueError):
    """A definition, or an edit of one, that cannot be accepted: the message names the field."""


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    weight: float = Field(gt=0, description="share of visitors, relative to the other arms")
    serves: Literal["personalized", "trending"]


class Planning(BaseModel):
    """The inputs of the power calculation behind `planned_visitors`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline_rate: float = Field(gt=0, lt=1, description="the primary KPI's rate in control")
    relative_mde: float = Field(gt=0, description="smallest relative lift worth detecting")
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    description: str = ""
    placement: Literal["homepage", "product_page", "cart", "email"]
    salt: Annotated[str, StringConstraints(min_length=8, max_length=64)]
    variants: Annotated[list[Variant], Field(min_length=2, max_length=10)]
    primary_kpi: Literal[KPIS] = "conversion"  # type: ignore[valid-type]
    guardrails: list[Literal[KPIS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["revenue_per_visitor"])
    start_at: datetime
    end_at: datetime | None = None
    planned_visitors: int = Field(gt=0, description="per arm")
    planning: Planning | None = None
    attribution_hours: float = Field(DEFAULT_ATTRIBUTION_HOURS, gt=0, description=(
        "outcomes without a request_id count for a visitor up to this long after their last "
        "exposure"))
    holdback: bool = Field(False, description="a long-running holdback: KPI monitoring of "
                                              "personalized vs control, no verdict")

    @field_validator("start_at", "end_at")
    @classmethod
    def _naive_utc(cls, moment: datetime | None) -> datetime | None:
        """Times are naive UTC, as the service's and the warehouse's clocks."""
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment

    @model_validator(mode="after")
    def _consistent(self):
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variants: names repeat ({names})")
        if "control" not in names:
            raise ValueError("variants: one of them must be named control (the baseline every "
                             "other arm is compared with)")
        if self.end_at is not None and self.end_at <= self.start_at:
            raise ValueError("end_at: must be after start_at")
        if self.primary_kpi in self.guardrails:
            raise ValueError(f"guardrails: {self.primary_kpi} is the primary KPI")
        return self

    @property
    def control(self) -> Variant:
        return next(v for v in self.variants if v.name == "control")

    def started(self, now: datetime) -> bool:
        return self.start_at <= now

    def running(self, now: datetime) -> bool:
        return self.start_at <= now and (self.end_at is None or now < self.end_at)

    def weights(self) -> list[float]:
        total = sum(v.weight for v in self.variants)
        return [v.weight / total for v in self.variants]


class Definitions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    experiments: list[Experiment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self):
        names = [e.name for e in self.experiments]
        if len(set(names)) != len(names):
            raise ValueError(f"experiments: names repeat ({sorted(names)})")
        by_placement: dict[str, list[Experiment]] = {}
        for e in self.experiments:
            by_placement.setdefault(e.placement, []).append(e)
        for placement, group in by_placement.items():
            group.sort(key=lambda e: e.start_at)
            for a, b in zip(group, group[1:], strict=False):
                if a.end_at is None or a.end_at > b.start_at:
                    raise ValueError(f"experiments: {a.name} and {b.name} overlap on placement "
                                     f"{placement} (one experiment per placement at a time: stop "
                                     "the first before the second starts)")
        return self

    def named(self, name: str) -> Experiment | None:
        return next((e for e in self.experiments if e.name == name), None)


# -- the file --------------------------------------------------------------------------------------


def read_definitions(path: Path) -> Definitions:
    """The file's experiments (none when there is no file); a DefinitionError naming the field."""
    if not path.exists():
        return Definitions()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not YAML: {error}") from None
    return parse_definitions(data, str(path))


def parse_definitions(data, where: str) -> Definitions:
    from pydantic import ValidationError

    try:
        return Definitions.model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            loc = list(e["loc"])
            if len(loc) >= 2 and loc[0] == "experiments" and isinstance(loc[1], int):
                name = (data.get("experiments") or [{}])[loc[1]]
                label = name.get("name", f"#{loc[1]}") if isinstance(name, dict) else f"#{loc[1]}"
                loc = [f"experiments[{label}]", *loc[2:]]
            problems.append(f"{'.'.join(map(str, loc)) or 'experiments'}: {e['msg']}")
        raise DefinitionError(f"{where}: " + "; ".join(problems)) from None


def write_definitions(path: Path, definitions: Definitions) -> None:
    data = definitions.model_dump(mode="json", exclude_none=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(data, sort_keys=False))
    temporary.replace(path)


def check_edits(before: Definitions, after: Definitions, now: datetime) -> None:
    """Refuse what a started experiment cannot become: a change of a frozen field, or leaving
    the file (its reports would lose their definition)."""
    for old in before.experiments:
        if not old.started(now):
            continue
        new = after.named(old.name)
        if new is None:
            raise DefinitionError(f"experiments[{old.name}]: started {old.start_at:%Y-%m-%d %H:%M}"
                                  "; it cannot be removed (stop it: end_at)")
        changed = [f for f in FROZEN_WHEN_STARTED if getattr(old, f) != getattr(new, f)]
        if changed:
            raise DefinitionError(
                f"experiments[{old.name}].{changed[0]}: refused, the experiment started "
                f"{old.start_at:%Y-%m-%d %H:%M} ({', '.join(changed)} would change; a new salt or "
                "weights move visitors between arms): stop it and create a new experiment")
        if old.end_at is not None and old.end_at <= now and new.end_at != old.end_at:
            raise DefinitionError(f"experiments[{old.name}].end_at: the experiment ended "
                                  f"{old.end_at:%Y-%m-%d %H:%M}; it cannot restart")


def new_salt() -> str:
    return secrets.token_hex(8)


def planned_sample(planning: Planning) -> int:
    """Visitors per arm for the planning inputs (statistics.sample_size_rate; with unequal
    weights, the verdict waits until every arm, the smallest too, has this many)."""
    from ml.experiments.statistics import sample_size_rate  # statsmodels: not in the service

    return sample_size_rate(planning.baseline_rate, planning.relative_mde, planning.alpha,
                            planning.power)


def detectable(planning: Planning, visitors_per_arm: int) -> float:
    from ml.experiments.statistics import mde_rate

    return mde_rate(planning.baseline_rate, visitors_per_arm, planning.alpha, planning.power)


# -- what the service reads ------------------------------------------------------------------------


def definitions_version(definitions: Definitions) -> str:
    text = json.dumps(definitions.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_published(path: Path, definitions: Definitions) -> str:
    """The checked definitions, for the service (the `experiment_registry` asset's file)."""
    version = definitions_version(definitions)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": version,
                                     **definitions.model_dump(mode="json")}, indent=1))
    temporary.replace(path)  # a worker reading it sees the old file or the new one, whole
    return version
