"""`tailor serve`, `tailor ui`: the HTTP service and the Dagster UI, supervised on this home."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestration.lib.env import REPO_ROOT, TailorHome


def add_parsers(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the promoted model over HTTP (BentoML)",
        description="Start the BentoML Recommender service on the promoted model of this home: "
        "API docs at http://HOST:PORT/docs, the OpenAPI document at /docs.json, Prometheus "
        "metrics at /metrics. SIGTERM or Ctrl-C stops it with all its workers.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=3001, help="default 3001 (the Dagster UI is on 3000)"
    )
    serve.set_defaults(handler=_serve)

    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on this home",
        description="Start `dagster dev` (webserver and daemon) on workspace.yaml and this home.",
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui)


def _serve(args: argparse.Namespace, home: TailorHome) -> int:
    from serving import serve

    return serve(home, host=args.host, port=args.port)


def _ui(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.dbt_project import ensure_manifest
    from serving.process import supervise

    ensure_manifest()
    dagster = Path(sys.executable).parent / "dagster"
    # Supervised rather than exec'd: a SIGTERM to tailor stops dagster dev and every server it
    # started (webserver, daemon, code servers), so a restart finds the port free.
    return supervise(
        [
            str(dagster),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            args.host,
            "-p",
            str(args.port),
        ]
    )
