"""The Dagster code location (workspace.yaml points here): everything under orchestration/defs."""

from pathlib import Path

import dagster as dg

from orchestration.lib.env import configure_environment

configure_environment()

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
