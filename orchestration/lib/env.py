"""Where Tailor keeps its state, and the process environment every entry point needs.

All state (DuckDB warehouse, Dagster home, BentoML home, reports) lives under one directory,
`TAILOR_HOME` (default: `.tailor/` in the checkout), so two homes never touch each other. This is
where an entry point sets the process environment up (`configure_environment()` first); what the
environment says is read in one module, serving/settings.py (`environment()`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from serving import TELEMETRY_OFF
from serving.settings import environment

REPO_ROOT = Path(__file__).resolve().parents[2]

DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1   # DuckDB allows one writer: every step that writes uses pool "duckdb"
"""


@dataclass(frozen=True)
class TailorHome:
    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def bentoml(self) -> Path:
        return self.root / "bentoml"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def data_docs(self) -> Path:
        return self.reports / "data_docs"

    @property
    def experiments(self) -> Path:
        """The experiment definitions (ml/experiments/design.py); keep it in version control."""
        return self.root / "experiments.yaml"

    @property
    def published_experiments(self) -> Path:
        """What `experiment_registry` checked, for the service (TAILOR_EXPERIMENTS_PATH)."""
        from serving import published_experiments

        return published_experiments(self.root)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def dbt_logs(self) -> Path:
        return self.root / "dbt" / "logs"


def tailor_home() -> TailorHome:
    return TailorHome(environment().home.resolve())


def configure_environment(home: TailorHome | None = None) -> TailorHome:
    """Create the home's folders and point every library at them (idempotent)."""
    home = home or tailor_home()
    for folder in (home.dagster, home.bentoml, home.reports, home.dbt_logs):
        folder.mkdir(parents=True, exist_ok=True)
    dagster_yaml = home.dagster / "dagster.yaml"
    if not dagster_yaml.exists():
        dagster_yaml.write_text(DAGSTER_YAML)
    os.environ.update(TELEMETRY_OFF)
    # dagster-dbt runs `dbt` as a subprocess: the one installed beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.update(
        {
            "TAILOR_HOME": str(home.root),
            "TAILOR_DUCKDB_PATH": str(home.warehouse),
            "DAGSTER_HOME": str(home.dagster),
            "BENTOML_HOME": str(home.bentoml),
            "DBT_LOG_PATH": str(home.dbt_logs),
        }
    )
    return home


def code_version() -> str:
    """The git commit of this checkout (recorded in every model card), or "unknown"."""
    import subprocess

    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")
