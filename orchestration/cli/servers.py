"""`tailor serve`, `tailor stream-worker`, `tailor ui`: the HTTP service, the workers that apply
its events to online profiles, and the Dagster UI, on this home."""

from __future__ import annotations

import argparse
import sys
import time
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

    worker = commands.add_parser(
        "stream-worker",
        help="apply the service's events to online profiles (a consumer of the event stream)",
        description="Join the `profiles` consumer group of the event stream (Redis at "
        "TAILOR_REDIS_URL, else this home's local Redis, started if needed) and apply each event "
        "to its visitor's online profile, once per event_id. Several workers may run, each with "
        "its own --consumer name; entries a dead worker left are claimed after --claim-idle-s, "
        "an entry failing --max-deliveries times goes to the dead-letter stream. It follows the "
        "promoted model (item categories, weights, half-life), checking for a newer one every "
        "--model-check-s. SIGTERM or Ctrl-C ends it after its current batch.",
    )
    worker.add_argument("--consumer", default=None,
                        help="this worker's name in the group (default: host-pid)")
    worker.add_argument("--batch", type=int, default=200, help="entries per read (default 200)")
    worker.add_argument("--claim-idle-s", type=float, default=30.0,
                        help="claim entries another worker left pending this long (default 30)")
    worker.add_argument("--max-deliveries", type=int, default=5,
                        help="deliveries before an entry goes to the dead letters (default 5)")
    worker.add_argument("--model-check-s", type=float, default=60.0,
                        help="how often to look for a newer promoted model (default 60)")
    worker.set_defaults(handler=_stream_worker)

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


def _stream_worker(args: argparse.Namespace, home: TailorHome) -> int:
    import signal
    import threading

    from ml.online.profile_rules import rules_from_bundle
    from orchestration.cli.status import model_store
    from orchestration.lib.seeds import event_type_weights
    from serving.stream.local_redis import redis_for
    from serving.stream.profiles import ProfileStore
    from serving.stream.redis_stream import RedisEventStream, connect
    from serving.stream.worker import StreamWorker, WorkerSettings

    store = model_store(home)

    def promoted() -> tuple[str | None, Path | None]:
        champion = store.champion()
        return (champion["tag"], Path(champion["path"])) if champion else (None, None)

    tag, folder = promoted()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with redis_for(home.root) as url:
        client = connect(url)
        settings = WorkerSettings(batch=args.batch, claim_idle_ms=int(args.claim_idle_s * 1000),
                                  max_deliveries=args.max_deliveries)
        if args.consumer:
            settings.consumer = args.consumer
        worker = StreamWorker(RedisEventStream(client), ProfileStore(client),
                              rules_from_bundle(folder, event_type_weights()), client, settings)
        print(f"tailor stream-worker {settings.consumer}: model {tag or 'none yet'}", flush=True)
        checked = time.monotonic()
        while not stop.is_set():
            worker.run_once_or_wait(stop)
            if time.monotonic() - checked >= args.model_check_s:
                checked = time.monotonic()
                try:
                    newer, folder = promoted()
                    if newer != tag:
                        tag, worker.rules = newer, rules_from_bundle(folder, event_type_weights())
                        print(f"tailor stream-worker {settings.consumer}: model {tag}",
                              flush=True)
                except Exception as error:  # a bundle being written: keep the rules we have
                    print(f"tailor stream-worker {settings.consumer}: model check failed "
                          f"({type(error).__name__}); keeping model {tag}", file=sys.stderr,
                          flush=True)
    p = worker.progress
    print(f"tailor stream-worker {settings.consumer}: applied {p.applied}, repeated {p.repeated}, "
          f"failed {p.failed}, dead-lettered {p.dead}", flush=True)
    return 0


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
