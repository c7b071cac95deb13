"""Serving: the BentoML Recommender (serving/service.py) and how to start it for a Tailor home.

    from serving import serve
    serve("/path/to/tailor/home", host="127.0.0.1", port=3000)   # blocks; what `tailor serve` runs

Kept free of heavy imports: importing `serving` does not import BentoML.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICE = "serving.service:Recommender"
MODEL_NAME = "tailor"  # the BentoML model the service loads (f"{MODEL_NAME}:latest")
# Worker GC thresholds (gen 0 raised from 700): an answer allocates many short-lived objects, and
# at the default the cyclic GC runs every few requests. Used by serving/service.py and by the
# benchmark's trivial services; the A/B runs that chose it: docs/benchmarks/serving.md.
GC_THRESHOLDS = (50_000, 10, 10)
# A worker's booster thread (serving/batching.py) needs the GIL back after each compiled pass and
# XGBoost call; while the event loop is busy it gets it only after this interval (CPython's
# default: 5 ms). Chosen by A/B runs too (docs/benchmarks/serving.md).
GIL_SWITCH_INTERVAL_S = 0.00005
# No machine here reaches the internet and a shop's may not either: every tool's telemetry is off.
# The one list, for every entry point (orchestration.lib.env, serve_command below); here because
# the Bento ships serving/ and ml/ only.
TELEMETRY_OFF = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "BENTOML_DO_NOT_TRACK": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",  # Evidently (and any tool following the convention)
    # implicit runs its own OpenMP threads; BLAS threads on top of them only slow it down.
    "OPENBLAS_NUM_THREADS": "1",
}


def home_root(home) -> Path:
    """The folder of a Tailor home, given as a path or as orchestration's TailorHome."""
    root = home if isinstance(home, (str, os.PathLike)) else home.root
    return Path(root).resolve()


def bentoml_home(home) -> Path:
    """The BentoML home of a Tailor home: `<home>/bentoml` (as orchestration.lib.env lays out)."""
    return home_root(home) / "bentoml"


def published_experiments(home) -> Path:
    """The experiments the `experiment_registry` asset publishes for this home's service."""
    return home_root(home) / "experiments" / "published.json"


def serve_command(home, host: str = "127.0.0.1", port: int = 3000,
                  environ: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """argv and environment of `bentoml serve serving.service:Recommender` for this home."""
    env = dict(os.environ if environ is None else environ)
    env.update(TELEMETRY_OFF)
    env["BENTOML_HOME"] = str(bentoml_home(home))
    env["TAILOR_HOME"] = str(home_root(home))
    env.setdefault("TAILOR_EXPERIMENTS_PATH", str(published_experiments(home)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    bentoml = Path(sys.executable).parent / "bentoml"
    argv = [str(bentoml), "serve", SERVICE, "--working-dir", str(REPO_ROOT),
            "--host", host, "--port", str(port)]
    return argv, env


def promoted_bundle(home) -> Path | None:
    """The folder of the model `tailor:latest` names in this home's BentoML store (what the
    service loads), or None before the first promotion. Read from the store's files, so that
    this process's BentoML stays unbound."""
    store = bentoml_home(home) / "models" / MODEL_NAME
    latest = store / "latest"
    return store / latest.read_text().strip() if latest.exists() else None


def serve(home, host: str = "127.0.0.1", port: int = 3000) -> int:
    """Run the Recommender on the promoted model of `home` until it exits or this process is
    asked to stop (SIGTERM, SIGINT, SIGHUP); the exit code (see `serving.process.supervise`)."""
    if promoted_bundle(home) is None:
        print(f"error: no promoted model in {bentoml_home(home) / 'models' / MODEL_NAME}; run "
              "`tailor demo` or `tailor run` first", file=sys.stderr)
        return 1
    from serving.process import supervise
    from serving.stream.local_redis import URL_ENV, redis_for

    argv, env = serve_command(home, host, port)
    with redis_for(home_root(home), env) as url:  # the shop's Redis, else this home's own
        env[URL_ENV] = url
        # Supervised: a SIGTERM to this process stops `bentoml serve` and its workers with it.
        return supervise(argv, env=env, cwd=REPO_ROOT)
