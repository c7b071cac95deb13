"""Benchmark: events through `POST /events` into the stream, and from the stream into profiles.

Everything real and on this machine: a redis-server with Tailor's durability settings (AOF,
`appendfsync always`: the 2xx waits for the fsync), `bentoml serve` of the Recommender on the
promoted model of --home, and `tailor stream-worker` processes.

1. Intake: `wrk` POSTs batches of --batch events (unique ids, customers of the model, its items)
   with 8 connections for --duration seconds; events/s = 2xx answers/s x batch. Baseline in the
   same run: the same batches published by one Python process straight into Redis (inbox +
   stream, `EventIntake` without HTTP), so the HTTP service's share is visible.
2. Lag: --workers stream workers run; a paced client posts --rate events/s (batches of --batch)
   while another asks /recommend at --recommend-rate requests/s; for every event, the time from
   its batch's 2xx to its applied marker in Redis (polled every 2 ms) gives the lag from accepted
   to profile updated.

    .venv/bin/python docs/benchmarks/realtime_benchmark.py --home "$TAILOR_HOME"

Needs a promoted model in the home (`tailor demo`), `wrk` and `redis-server` (Debian). Writes
realtime.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from serving import TELEMETRY_OFF, serve_command  # noqa: E402
from serving.process import free_port, start_until_ready, stop  # noqa: E402
from serving.stream.local_redis import run_redis  # noqa: E402

LUA = r"""
local users, items = {}, {}
for line in io.lines(os.getenv("BENCH_USERS")) do users[#users + 1] = line end
for line in io.lines(os.getenv("BENCH_ITEMS")) do items[#items + 1] = line end
local batch = tonumber(os.getenv("BENCH_BATCH"))
local counter = 0
prefix = "t"
local started = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function setup(thread)
  started = started + 1
  thread:set("prefix", "t" .. started .. "-" .. os.time())
end
function request()
  local events = {}
  for i = 1, batch do
    counter = counter + 1
    local u = users[(counter % #users) + 1]
    local it = items[(counter * 7 % #items) + 1]
    events[i] = string.format('{"event_id":"%s-%d","user_id":"%s","session_id":"s-%s",' ..
      '"item_id":"%s","event_type":"view","occurred_at":"2026-12-01T10:00:00Z"}',
      prefix, counter, u, u, it)
  end
  return wrk.format(nil, "/events", nil, '{"events":[' .. table.concat(events, ",") .. ']}')
end
"""


def start_redis(folder: Path):
    socket = folder / "redis.sock"
    return run_redis(folder, socket), f"unix://{socket}"


def model_ids(home: Path) -> tuple[list[str], list[str]]:
    from ml.bundle import load_bundle

    models = sorted((home / "bentoml" / "models" / "tailor").glob("*/"), key=os.path.getmtime)
    index = load_bundle(models[-1]).model.index
    users = [u for u in index.user_ids.tolist()
             if not u.startswith("guest-") and index.has_history(index.user_index[u])]
    return users, index.catalog.item_ids.tolist()


def run_wrk(url: str, seconds: float, env: dict, script: Path) -> dict:
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{int(seconds)}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, env=env,
                         check=True).stdout
    requests = float(next(line.split()[1] for line in out.splitlines()
                          if line.startswith("Requests/sec")))
    errors = 0
    for line in out.splitlines():
        text = line.strip()
        if text.startswith("Non-2xx"):
            errors += int(text.split()[-1])
        elif text.startswith("Socket errors:"):
            errors += sum(int(part.split()[-1]) for part in text.split(":", 1)[1].split(","))
    latency = {p: line.split()[1] for line in out.splitlines()
               for p in ("50%", "99%") if line.strip().startswith(p)}
    return {"requests_per_s": requests, "errors": errors, "latency": latency}


def direct_baseline(url: str, users: list[str], items: list[str], batch: int,
                    seconds: float) -> float:
    """Events/s that one Python process gets into Redis through `EventIntake`, no HTTP."""
    from serving.stream.intake import EventIntake
    from serving.stream.profiles import ProfileStore
    from serving.stream.redis_stream import RedisEventStream, connect

    client = connect(url)
    intake = EventIntake(RedisEventStream(client), ProfileStore(client))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        events = [{"event_id": f"direct-{n + i}", "user_id": users[(n + i) % len(users)],
                   "session_id": "s", "item_id": items[(n + i) % len(items)],
                   "event_type": "view", "occurred_at": "2026-12-01T10:00:00Z"}
                  for i in range(batch)]
        intake.accept(events, known_item=lambda _: True)
        n += batch
    return n / (time.perf_counter() - start)


def lag_run(service: str, redis_url: str, users: list[str], items: list[str], batch: int,
            rate: float, recommend_rate: float, seconds: float) -> dict:
    """Paced events and recommends; per event, 2xx -> applied marker."""
    from serving.stream.redis_stream import connect

    client = connect(redis_url)
    accepted: dict[str, float] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    lags: list[float] = []
    errors = {"events": 0, "recommend": 0}

    def post_events() -> None:
        interval, n = batch / rate, 0
        with httpx.Client(base_url=service, timeout=10) as http:
            next_at = time.monotonic()
            while time.monotonic() < stop_at:
                events = [{"event_id": f"lag-{n + i}", "user_id": users[(n + i) % len(users)],
                           "session_id": "s", "item_id": items[(n * 3 + i) % len(items)],
                           "event_type": "view", "occurred_at": "2026-12-01T11:00:00Z"}
                          for i in range(batch)]
                response = http.post("/events", json={"events": events})
                done = time.perf_counter()
                if response.status_code != 200:
                    errors["events"] += 1
                with lock:
                    for e in events:
                        accepted[e["event_id"]] = done
                n += batch
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def recommend() -> None:
        interval, n = 1 / recommend_rate, 0
        with httpx.Client(base_url=service, timeout=10) as http:
            next_at = time.monotonic()
            while time.monotonic() < stop_at:
                if http.post("/recommend", json={"user_id": users[n % len(users)]}
                             ).status_code != 200:
                    errors["recommend"] += 1
                n += 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def watch() -> None:
        while time.monotonic() < stop_at + 10 and (poster.is_alive() or accepted):
            with lock:
                waiting = list(accepted)
            if waiting:
                marks = client.mget([f"tailor:applied:{i}" for i in waiting])
                now = time.perf_counter()
                with lock:
                    for event_id, mark in zip(waiting, marks, strict=True):
                        if mark is not None:
                            lags.append(now - accepted.pop(event_id))
            time.sleep(0.002)

    poster = threading.Thread(target=post_events)
    threads = [poster, threading.Thread(target=recommend), threading.Thread(target=watch)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = np.array(lags) * 1000
    return {"events": len(lags), "not_applied": len(accepted), "errors": errors,
            "p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max())}


def fault_run(service: str, redis_server: list, users: list[str], items: list[str], batch: int,
              n_events: int, worker_argv, home: Path, scratch: Path) -> dict:
    """`n_events` posted (each batch retried until it gets a 200, as a shop's client would)
    while a worker is killed with SIGKILL and restarted, and Redis too; then each event must be
    in the profiles once and, after a drain, in raw_events once."""
    workers = [worker_argv(f"fault-{i}") for i in range(2)]
    sent: dict[str, str] = {}  # event id -> user
    retries = {"batches": 0}
    progress = {"sent": 0}

    def send() -> None:
        with httpx.Client(base_url=service, timeout=30) as http:
            for start in range(0, n_events, batch):
                # users of their own: each profile must end with exactly its events
                events = [{"event_id": f"fault-{n}", "user_id": f"fault-u{n % 2000}",
                           "session_id": "s", "item_id": items[n % len(items)],
                           "event_type": "view", "occurred_at": "2026-12-01T12:00:00Z"}
                          for n in range(start, min(start + batch, n_events))]
                while True:
                    try:
                        if http.post("/events", json={"events": events}).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    retries["batches"] += 1
                    time.sleep(0.2)
                sent.update((e["event_id"], e["user_id"]) for e in events)
                progress["sent"] = len(sent)

    try:
        return _faults(service, redis_server, n_events, workers, worker_argv, sent, retries,
                       progress, send, home, scratch)
    finally:  # never leave a worker behind, whatever failed
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()


def _faults(service, redis_server, n_events, workers, worker_argv, sent, retries, progress,
            send, home, scratch) -> dict:
    import shutil

    import redis as redis_lib

    from serving.stream.redis_stream import RedisEventStream, connect

    url = redis_server[1]
    sender = threading.Thread(target=send)
    sender.start()
    killed = {"worker": False, "redis": False}
    while sender.is_alive():
        if not killed["worker"] and progress["sent"] >= 0.3 * n_events:
            workers[0].kill()
            workers[0].wait()
            time.sleep(1)
            workers[0] = worker_argv("fault-0")  # the same name: its pending entries are its own
            killed["worker"] = True
        if not killed["redis"] and progress["sent"] >= 0.6 * n_events:
            redis_server[0].kill()
            redis_server[0].wait()
            time.sleep(1)
            redis_server[0] = start_redis(Path(url[len("unix://"):]).parent)[0]
            killed["redis"] = True
        time.sleep(0.05)
    sender.join()
    stream = RedisEventStream(connect(url))
    deadline = time.monotonic() + 120
    while True:
        try:
            group = {g.name: g for g in stream.stats().groups}["profiles"]
            if not group.lag and not group.pending:
                break
        except redis_lib.ConnectionError:
            pass
        if time.monotonic() > deadline:
            logs = "\n".join((scratch / f"{n}.log").read_text()[-2000:]
                             for n in ("fault-0", "fault-1") if (scratch / f"{n}.log").exists())
            raise RuntimeError(f"workers did not apply every event within 2 minutes: "
                               f"{stream.stats()}\n{logs}")
        time.sleep(0.5)
    for w in workers:
        w.terminate()
        w.wait(timeout=30)
    client = connect(url)
    per_user: dict[str, int] = {}
    for user in sent.values():
        per_user[user] = per_user.get(user, 0) + 1
    ids = list(sent)
    applied = sum(m is not None for k in range(0, len(ids), 10_000)
                  for m in client.mget([f"tailor:applied:{i}" for i in ids[k:k + 10_000]]))
    profiles = client.mget([f"tailor:profile:user:{u}" for u in per_user])
    counted = {u: json.loads(p)["events"] if p else 0 for u, p in zip(per_user, profiles,
                                                                         strict=True)}
    wrong = sum(counted[u] != n for u, n in per_user.items())
    # The warehouse: a copy of the home's, drained with raw_shop_data's stream source.
    from orchestration.lib.env import TailorHome
    from orchestration.lib.runner import run_pipeline
    from orchestration.lib.warehouse import DuckDBWarehouse

    drained = TailorHome(scratch / "home")
    drained.root.mkdir()
    shutil.copy(home / "warehouse.duckdb", drained.warehouse)
    os.environ["TAILOR_REDIS_URL"] = url
    config = {"source": "stream", "arrival": "append", "stream_batch": 10 * n_events}
    assert run_pipeline(drained, config, job_name="ingest_tailor_job").success
    rows = DuckDBWarehouse(path=str(drained.warehouse)).query(
        "select count(*) as n, count(distinct event_id) as ids from raw.events "
        "where event_id like 'fault-%'").iloc[0]
    return {"events": n_events, "retried_batches": retries["batches"], "applied": applied,
            "users": len(per_user), "users_miscounted": wrong, "warehouse_rows": int(rows["n"]),
            "warehouse_ids": int(rows["ids"]), "killed": killed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="stream workers in the lag run")
    parser.add_argument("--service-workers", type=int, default=2,
                        help="BentoML worker processes of the service")
    parser.add_argument("--rate", type=float, default=1000, help="events/s in the lag run")
    parser.add_argument("--recommend-rate", type=float, default=200)
    parser.add_argument("--fault-events", type=int, default=100_000,
                        help="events of the fault run (0: none)")
    args = parser.parse_args()
    os.environ.update(TELEMETRY_OFF)
    users, items = model_ids(args.home)
    with tempfile.TemporaryDirectory(prefix="tailor-rt-") as scratch:
        scratch = Path(scratch)
        (scratch / "redis").mkdir()
        redis_process, redis_url = start_redis(scratch / "redis")
        redis_server = [redis_process, redis_url]  # the fault run restarts it
        port = free_port()
        argv, env = serve_command(args.home, "127.0.0.1", port)
        env.update({"TAILOR_REDIS_URL": redis_url, "TAILOR_SERVING_CACHE_SIZE": "0",
                    "TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0",
                    "TAILOR_SERVING_WORKERS": str(args.service_workers)})
        service = f"http://127.0.0.1:{port}"
        server = start_until_ready(argv, env, REPO, service, scratch / "serve.log")
        workers = []
        try:
            (scratch / "users").write_text("\n".join(users[:5000]) + "\n")
            (scratch / "items").write_text("\n".join(items) + "\n")
            (scratch / "events.lua").write_text(LUA)
            wrk_env = {**os.environ, "BENCH_USERS": str(scratch / "users"),
                       "BENCH_ITEMS": str(scratch / "items"), "BENCH_BATCH": str(args.batch)}
            run_wrk(service, 3, wrk_env, scratch / "events.lua")  # warm-up
            intake = run_wrk(service, args.duration, wrk_env, scratch / "events.lua")
            baseline = direct_baseline(redis_url, users, items, args.batch, args.duration / 2)
            worker_env = {**os.environ, "TAILOR_HOME": str(args.home),
                          "TAILOR_REDIS_URL": redis_url}
            def worker(name: str, claim_idle_s: float = 30) -> subprocess.Popen:
                with (scratch / f"{name}.log").open("a") as log:
                    return subprocess.Popen([sys.executable, "-m", "orchestration.cli",
                                             "stream-worker", "--consumer", name,
                                             "--claim-idle-s", str(claim_idle_s)],
                                            env=worker_env, stdout=log, stderr=subprocess.STDOUT)

            workers = [worker(f"bench-{i}") for i in range(args.workers)]
            from serving.stream.redis_stream import RedisEventStream, connect
            stream = RedisEventStream(connect(redis_url))
            deadline = time.monotonic() + 300
            while (g := {g.name: g for g in stream.stats().groups}["profiles"]).lag + g.pending:
                if time.monotonic() > deadline:  # the intake run's backlog, applied first
                    raise RuntimeError("workers did not catch up with the intake run")
                time.sleep(0.5)
            lag = lag_run(service, redis_url, users, items, args.batch, args.rate,
                          args.recommend_rate, args.duration)
            for w in workers:
                w.terminate()
                w.wait(timeout=30)
            faults = (fault_run(service, redis_server, users, items, args.batch,
                                args.fault_events, lambda name: worker(name, claim_idle_s=5),
                                args.home, scratch) if args.fault_events else None)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.terminate()
                    w.wait(timeout=30)
            stop(server)
            redis_server[0].terminate()
            redis_server[0].wait(timeout=30)
    events_per_s = intake["requests_per_s"] * args.batch
    results = {"intake_events_per_s": events_per_s, "intake": intake,
               "direct_events_per_s": baseline, "lag": lag, "faults": faults, "args": {
                   k: str(v) for k, v in vars(args).items()}}
    print(json.dumps(results, indent=2))
    write_report(HERE / "realtime.md", results, args)
    return 0


def write_report(path: Path, r: dict, args) -> None:
    lag, intake = r["lag"], r["intake"]
    lines = [
        "# Real-time benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M}; single run. Redis with AOF and `appendfsync "
        f"always` (every 2xx waited for its fsync), {args.service_workers} BentoML worker(s), "
        "answer cache off.",
        "Reproduce: `.venv/bin/python docs/benchmarks/realtime_benchmark.py --home HOME` "
        "(a home with a promoted model: `tailor demo`). Answers with profiles "
        "(read-your-writes, latency): [realtime_answers.md](realtime_answers.md); in-session "
        "quality: [session_quality.md](session_quality.md).",
        "",
        f"## Intake: `POST /events`, batches of {args.batch}, 8 connections, "
        f"{args.duration:.0f} s",
        "",
        "| path | events/s | errors | p50 | p99 |",
        "|---|---|---|---|---|",
        f"| HTTP service (`wrk`) | {r['intake_events_per_s']:,.0f} | {intake['errors']} | "
        f"{intake['latency'].get('50%', '')} | {intake['latency'].get('99%', '')} |",
        f"| baseline: `EventIntake` in one process, no HTTP | {r['direct_events_per_s']:,.0f} "
        "| 0 | | |",
        "",
        f"Goal >= 5,000 events/s, 0 errors: **{'met' if r['intake_events_per_s'] >= 5000 and not intake['errors'] else 'not met'}**.",  # noqa: E501
        "",
        f"## Lag: accepted (2xx) -> profile updated, {args.rate:.0f} events/s with "
        f"{args.recommend_rate:.0f} recommend/s, {args.workers} stream worker(s)",
        "",
        "| events | not applied at the end | errors (events / recommend) | p50 ms | p99 ms | max ms |",  # noqa: E501
        "|---|---|---|---|---|---|",
        f"| {lag['events']:,} | {lag['not_applied']} | {lag['errors']['events']} / "
        f"{lag['errors']['recommend']} | {lag['p50_ms']:.1f} | {lag['p99_ms']:.1f} | "
        f"{lag['max_ms']:.1f} |",
        "",
        f"Goal p99 <= 100 ms: **{'met' if lag['p99_ms'] <= 100 else 'not met'}**. The lag "
        "includes the 2 ms polling of the applied markers.",
    ]
    f = r["faults"]
    if f:
        exact = (f["applied"] == f["events"] and not f["users_miscounted"]
                 and f["warehouse_rows"] == f["warehouse_ids"] == f["events"])
        lines += [
            "",
            f"## Faults: {f['events']:,} events, 2 workers; one worker `kill -9` at 30% and "
            "restarted, Redis `kill -9` at 60% and restarted",
            "",
            "The client retries a batch until it gets a 200 (same event ids), as a shop's "
            "should.",
            "",
            "| events | batches retried | applied once (markers) | users miscounted | "
            "raw_events rows | distinct ids |",
            "|---|---|---|---|---|---|",
            f"| {f['events']:,} | {f['retried_batches']} | {f['applied']:,} | "
            f"{f['users_miscounted']} of {f['users']:,} | {f['warehouse_rows']:,} | "
            f"{f['warehouse_ids']:,} |",
            "",
            f"Every accepted event counted exactly once in the profiles and in the warehouse: "
            f"**{'yes' if exact else 'NO'}**.",
        ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
