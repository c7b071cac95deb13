"""`tailor`: the command line of the platform, one module per group of commands.

    pipeline.py  demo, run, evaluate       the pipeline through Dagster on this home
    answers.py   recommend,                the promoted model's answers, as the HTTP service
                 export-recommendations    gives them
    status.py    status, report            what this home holds; collect_status, the summaries
    drift.py     simulate-drift            new days -> drift reports -> sensor -> retraining
    experiments.py  experiment create|stop|status|report   A/B tests of personalization
    servers.py   serve, ui                 BentoML service and Dagster UI, supervised
    options.py                             options several commands share (--tuning-trials, --k)

Each module's `add_parsers(commands)` defines its commands' options and handlers. Heavy libraries
(dagster, duckdb, pandas, bentoml) are imported inside the commands, so `tailor --help` is fast.
"""

from __future__ import annotations

import argparse

from orchestration.cli import answers, drift, experiments, pipeline, servers, status
from orchestration.lib.env import configure_environment

# The order of `tailor --help`.
COMMAND_GROUPS = (pipeline, answers, status, drift, experiments, servers)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    home = configure_environment()
    return args.handler(args, home)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailor",
        description="Tailor: e-commerce personalization as a Dagster asset graph. "
        "State lives under $TAILOR_HOME (default: .tailor/ in the checkout).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parsers(commands)
    return parser
