"""The dbt project as dagster-dbt sees it. Kept in its own module: `@dbt_assets` reads the manifest
at import, and the manifest is built (`make manifest` / `ensure_manifest()`), never committed."""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.lib.env import REPO_ROOT

TRANSFORMS_DIR = REPO_ROOT / "transforms"

transforms_project = DbtProject(
    project_dir=TRANSFORMS_DIR, profiles_dir=TRANSFORMS_DIR, target="local"
)
transforms_project.prepare_if_dev()


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than a model, seed or yml."""
    manifest = Path(transforms_project.manifest_path)
    sources = [
        p
        for p in TRANSFORMS_DIR.rglob("*")
        if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts
    ]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        transforms_project.preparer.prepare(transforms_project)
    return manifest
