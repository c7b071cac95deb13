"""The one settings file a shop edits: `tailor.toml` in its Tailor home (`tailor run --config FILE`
checks a file and installs it there; `TAILOR_CONFIG` may name another). Every table is optional;
what a table leaves out keeps its default. docs/settings.md documents every key.

    [columns.events]          # the shop's column -> the contract's (docs/data-contract.md)
    user = "user_id"
    item = "item_id"
    time = "occurred_at"

    [gates]                   # the data gates' thresholds (expectations.suites.SuiteParams)
    max_quantity = 100000

    [tuning]                  # the tuning budget of model_tuning
    trials = 8
    seconds = 120

    [serving]                 # the service's rules and cache (serving.settings.ServingSettings)
    exclude_purchased = true

`tailor run` turns the file into the run's config (gates -> every data gate, tuning ->
model_tuning, columns -> raw_shop_data); the service reads its [serving] table itself.
"""

from __future__ import annotations

import shutil
from dataclasses import fields
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from expectations.params import SuiteParams
from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS
from serving.settings import SETTINGS_FILE, ServingSettings, environment, read_settings_file

CONTRACT_COLUMNS = {"events": EVENT_COLUMNS, "products": PRODUCT_COLUMNS,
                    "customers": CUSTOMER_COLUMNS}
_GATE_DEFAULTS = {f.name: f.default for f in fields(SuiteParams) if f.name != "as_of"}
# What `tailor status` and the run summaries never print: the admin token, and the salt that
# would let anyone with the logs recompute a user's hash.
SECRETS = {"admin_token", "log_salt"}


class ColumnMap(BaseModel):
    """Per table of the files source, the shop's column names -> the contract's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: dict[str, str] = {}
    products: dict[str, str] = {}
    customers: dict[str, str] = {}

    @field_validator("events", "products", "customers")
    @classmethod
    def _onto_the_contract(cls, mapping: dict[str, str], info) -> dict[str, str]:
        contract = CONTRACT_COLUMNS[info.field_name]
        unknown = sorted(set(mapping.values()) - set(contract))
        if unknown:
            raise ValueError(f"{unknown} are not contract columns; they are {list(contract)}")
        targets = list(mapping.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"{twice} named by more than one of the shop's columns")
        return mapping


class DataGateConfig(dg.Config):
    """Thresholds of the data gates (the run config of each gate check); the defaults are
    SuiteParams'."""

    min_events: int = _GATE_DEFAULTS["min_events"]
    max_staleness_days: float = _GATE_DEFAULTS["max_staleness_days"]
    min_users: int = _GATE_DEFAULTS["min_users"]
    min_items: int = _GATE_DEFAULTS["min_items"]
    max_quantity: int = _GATE_DEFAULTS["max_quantity"]
    max_quarantine_share: float = _GATE_DEFAULTS["max_quarantine_share"]
    max_quarantine_share_per_reason: float = _GATE_DEFAULTS["max_quarantine_share_per_reason"]
    # Per-reason limits that replace max_quarantine_share_per_reason, e.g. {"duplicate_event": 0.2}.
    max_quarantine_share_by_reason: dict[str, float] = {}

    def to_params(self, as_of: datetime) -> SuiteParams:
        return SuiteParams(as_of=as_of, **{name: getattr(self, name) for name in _GATE_DEFAULTS})


class _CheckedGates(BaseModel):
    def model_post_init(self, _) -> None:
        SuiteParams(as_of=datetime(2000, 1, 1), **self.model_dump())  # its own range checks


# The [gates] table: DataGateConfig's fields, refusing unknown keys (dg.Config ignores them, so a
# misspelt threshold would silently keep its default).
GateSettings = create_model(
    "GateSettings", __base__=_CheckedGates,
    **{name: (field.annotation, field.default) for name, field in
       DataGateConfig.model_fields.items()})
GateSettings.model_config.update(extra="forbid", frozen=True)
GateSettings.model_rebuild(force=True)


class TuningSettings(BaseModel):
    """model_tuning's budget: Optuna trials per study, and seconds for all studies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int = Field(4, ge=1)
    seconds: float | None = Field(None, ge=0)

    def op_config(self) -> dict:
        """model_tuning's config (`ModelTuningConfig`): trials per study, and the seconds."""
        config = {"source_trials": self.trials, "ranker_trials": self.trials}
        if self.seconds is not None:
            config["seconds"] = self.seconds
        return config


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: ColumnMap = ColumnMap()
    gates: GateSettings = GateSettings()
    tuning: TuningSettings = TuningSettings()
    serving: ServingSettings = ServingSettings()

    def gate_thresholds(self) -> dict:
        """The thresholds the file changes (DataGateConfig fields), for every data gate."""
        return self.gates.model_dump(exclude_defaults=True)

    def changed(self) -> dict:
        """What differs from the defaults, by table (what `tailor status` shows); secrets are
        shown as set, never their values."""
        changed = {name: values for name in type(self).model_fields
                   if (values := getattr(self, name).model_dump(exclude_defaults=True,
                                                                mode="json"))}
        for secret in SECRETS & set(changed.get("serving", {})):
            changed["serving"][secret] = "(set)"
        return changed


def read_shop_settings(path: Path | None) -> ShopSettings:
    """The settings in `path` (None: the defaults); a ValueError naming the file, the table and
    key, and the reason."""
    if path is None:
        return ShopSettings()
    data = read_settings_file(path)
    try:
        return ShopSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"[{'.'.join(map(str, e['loc'][:-1])) or e['loc'][0]}] "
                             f"{e['loc'][-1]}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise ValueError(f"settings file {path}: {problems}") from None


def home_settings() -> ShopSettings:
    """The settings the environment names: TAILOR_CONFIG, else the home's tailor.toml."""
    return read_shop_settings(environment().settings_file)


def install_settings(source: Path, home_root: Path) -> Path:
    """Check `source` and make it the home's settings file (what later commands, the service and
    runs read); the checked copy's path."""
    read_shop_settings(source)
    target = home_root / SETTINGS_FILE
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target
