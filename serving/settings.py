"""The process environment, read in this one module into typed settings (pydantic-settings), and
the Recommender service's settings.

`Environment` is every variable Tailor's own code reads (entry points read it once and hand the
values on; `TAILOR_DUCKDB_PATH`, `DAGSTER_HOME` and `BENTOML_HOME` are also set for the libraries by
orchestration.lib.env):

    TAILOR_HOME              the folder holding all state (default: .tailor/ in the checkout)
    TAILOR_CONFIG            the shop's settings file (default: <home>/tailor.toml when it exists)
    TAILOR_REDIS_URL         the event stream's Redis (default: the home's own, started by tailor)
    TAILOR_SERVING_WORKERS   BentoML worker processes of the service (default 1)
    TAILOR_CONSENT_PATH      the consent file used when the bundle has no consent.parquet
    TAILOR_EXPERIMENTS_PATH  the experiments `experiment_registry` published (tailor serve sets it)
    BENTOML_HOME             BentoML's store (tailor sets it to <home>/bentoml)

`ServingSettings` (the rules of serving/rules.py, the cache, consent, reloads, logs) come from, in
increasing priority: the defaults below; the `[serving]` table of the settings file (keys = field
names, e.g. `exclude_purchased = true`); one variable per field, `TAILOR_SERVING_<FIELD>`, e.g.
`TAILOR_SERVING_CACHE_TTL_S=30`; then TAILOR_CONSENT_PATH and TAILOR_EXPERIMENTS_PATH. The consent
and experiments files are re-read by every worker within `reload_check_interval_s` when they
change. Invalid values stop the service at start-up with a message naming the setting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from serving import REPO_ROOT

SETTINGS_FILE = "tailor.toml"  # a home's settings file
SERVING_ENV_PREFIX = "TAILOR_SERVING_"
RETIRED_CONFIG_ENV = "TAILOR_SERVING_CONFIG"  # the service's own settings file, before tailor.toml


class Environment(BaseSettings):
    """What the process environment says; unknown variables are ignored."""

    # An empty variable is as good as unset (TAILOR_CONFIG= must not mean the current folder).
    model_config = SettingsConfigDict(env_prefix="TAILOR_", extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    home: Path = REPO_ROOT / ".tailor"
    config: Path | None = None
    redis_url: str | None = None
    serving_workers: int = Field(1, ge=1)
    consent_path: Path | None = None
    experiments_path: Path | None = None
    bentoml_home: Path | None = Field(None, validation_alias=AliasChoices("BENTOML_HOME"))

    @property
    def settings_file(self) -> Path | None:
        """The shop's settings file: TAILOR_CONFIG, else the home's tailor.toml if it exists."""
        if self.config is not None:
            return self.config
        default = self.home.resolve() / SETTINGS_FILE
        return default if default.exists() else None


def environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The environment as typed settings; `environ`: a mapping to read instead of os.environ
    (the environment of a process tailor starts, or a test's)."""
    if environ is None:
        return Environment()
    given = {key.removeprefix("TAILOR_").lower(): value for key, value in environ.items()
             if key.startswith("TAILOR_") and value}
    given = {key: value for key, value in given.items() if key in Environment.model_fields}
    if environ.get("BENTOML_HOME"):
        given["BENTOML_HOME"] = environ["BENTOML_HOME"]
    return _Given(**given)


class _Given(Environment):
    """Environment's fields, from the keyword arguments alone (not os.environ)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings,)


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


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings file's tables (TOML), or a ValueError naming the file and the line."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"settings file {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"settings file {path}: not valid TOML ({error})") from None


def load_settings(environ: Mapping[str, str] | None = None) -> ServingSettings:
    """The service's settings from the settings file's [serving] table and the environment; a bad
    value is refused naming where it came from (the variable, or the file's key)."""
    from os import environ as process_environ

    variables = process_environ if environ is None else environ
    if variables.get(RETIRED_CONFIG_ENV):
        raise ValueError(f"{RETIRED_CONFIG_ENV} is no longer read: put its settings in the "
                         "[serving] table of the settings file (TAILOR_CONFIG, or the home's "
                         "tailor.toml; docs/settings.md)")
    env = environment(environ)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if (path := env.settings_file) is not None:
        for name, value in read_settings_file(path).get("serving", {}).items():
            values[name], origin[name] = value, f"[serving] {name} in {path}"
    for name in ServingSettings.model_fields:
        key = SERVING_ENV_PREFIX + name.upper()
        if key in variables:
            values[name], origin[name] = variables[key], key
    if env.consent_path is not None:
        values["consent_path"], origin["consent_path"] = env.consent_path, "TAILOR_CONSENT_PATH"
    if env.experiments_path is not None:
        values["experiments_path"] = env.experiments_path
        origin["experiments_path"] = "TAILOR_EXPERIMENTS_PATH"
    try:
        return ServingSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{origin.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"serving settings: {problems}") from None
