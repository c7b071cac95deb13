"""The Dagster code location (workspace.yaml points here): everything under orchestration/defs."""

import dagster as dg

import orchestration.defs
from orchestration.lib.env import configure_environment

configure_environment()

defs = dg.load_defs(defs_root=orchestration.defs)
