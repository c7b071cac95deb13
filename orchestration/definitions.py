"""The Dagster code location (workspace.yaml points here): everything under orchestration/defs."""

import dagster as dg

import orchestration.defs
from orchestration.lib.env import REPO_ROOT, configure_environment

configure_environment()

# The tree of orchestration/defs, as `dg.load_from_defs_folder` builds it, but without the code
# location name that one derives from pyproject ([tool.dg.project] code_location_name, else the
# checkout's folder name, e.g. "main"): under `dagster dev` the location is named by
# workspace.yaml ("orchestration.definitions"), and dagster warned of the mismatch at every load.
defs = dg.ComponentTree.from_module(
    defs_module=orchestration.defs, project_root=REPO_ROOT
).build_defs()
