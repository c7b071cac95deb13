"""Benchmark: the Recommender over real HTTP against a trivial BentoML endpoint served the same way.

Both services run under `bentoml serve` on 127.0.0.1 with the same service settings (workers from
--workers, access log off, async API, telemetry off) and are driven by the same load generator,
`wrk` (Debian package `wrk`), with a Lua script that POSTs JSON bodies `{"user_id": ..., "k": 10}`
cycling through the real user ids of the promoted model (customers with a history, so every answer
is personalized). Per case: a warm-up run (discarded), then one sequential client (`wrk -t1 -c1`)
and 8 concurrent clients (`wrk -t2 -c8`), each for --duration seconds.

Cases:
- trivial: docs/benchmarks/trivial_service.py `Trivial`, parses a small body and returns a
  constant: the baseline of the targets;
- trivial, same API: `TrivialSameApi`, the Recommender's own request and response models and a
  constant 10-item answer: what BentoML costs for this API alone;
- recommender, cache off (TAILOR_SERVING_CACHE_SIZE=0): every request ranks its ~100-200
  candidates with XGBoost and applies the business rules: the number the targets are about;
- recommender, default settings (answer cache on): what a deployment with the defaults does on
  this traffic, where users repeat (hit rate reported from /metrics).
All of it once per worker count in --workers (default: 1, then 2). Before the HTTP runs, the
script times the Recommender's steps in process (`Engine.prepare_recommend`, the booster
thread's `RecommendWork.score`, `Engine.complete_recommend`) per request, for a lone request and for batches of 5.

Reported: p50 / p90 / p99 latency, throughput, errors (socket errors and non-2xx answers) and the
ratios to the trivial endpoint, into serving.md beside this file:

    .venv/bin/python docs/benchmarks/serving_benchmark.py --home "$TAILOR_HOME"

Needs a promoted model in the home (`tailor demo`) and `wrk` (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from serving import serve_command  # noqa: E402
from serving.process import free_port, start_until_ready, stop  # noqa: E402
from serving.settings import environment  # noqa: E402

LUA = r"""
local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do users[#users + 1] = line end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
local i = 0
request = function()
  i = i + 1
  local user = users[((i + offset) % #users) + 1]
  return wrk.format(nil, "/recommend", nil, '{"user_id":"' .. user .. '","k":10}')
end
done = function(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
  out:close()
end
"""

LOADS = {"sequential (wrk -t1 -c1)": (1, 1), "8 concurrent (wrk -t2 -c8)": (2, 8)}


def run_wrk(url: str, threads: int, connections: int, seconds: float, script: Path,
            users: Path, work: Path) -> dict:
    out = work / "wrk.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_USERS": str(users), "BENCH_OUT": str(out)}
    done = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}",
                           f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s", "-s",
                           str(script), url], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed:\n{done.stdout}{done.stderr}")
    result = json.loads(out.read_text())
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def cache_hit_rate(url: str) -> float | None:
    text = httpx.get(f"{url}/metrics", timeout=10).text

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} ([0-9.e+]+)$", text,
                                                 re.MULTILINE))

    hits, misses = total("tailor_cache_hits_total"), total("tailor_cache_misses_total")
    return hits / (hits + misses) if hits + misses else None


def benchmark_case(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int,
                   args, script: Path, users: Path, work: Path) -> dict:
    url = f"http://127.0.0.1:{port}"
    process = start_until_ready(argv, env, cwd, url, work / (re.sub(r"\W+", "_", name) + ".log"))
    try:
        probe = httpx.post(f"{url}/recommend", json={"user_id": users.read_text().split()[0],
                                                     "k": 10}, timeout=30)
        probe.raise_for_status()
        results = {"probe": probe.json()}
        for load, (threads, connections) in LOADS.items():
            run_wrk(url, threads, connections, args.warmup, script, users, work)
            results[load] = run_wrk(url, threads, connections, args.duration, script, users,
                                    work)
            print(f"  {name} / {load}: {results[load]['rps']:.0f} req/s, "
                  f"p50 {results[load]['p50_us'] / 1000:.2f} ms, "
                  f"p99 {results[load]['p99_us'] / 1000:.2f} ms, "
                  f"errors {results[load]['errors']}", file=sys.stderr)
        results["cache_hit_rate"] = cache_hit_rate(url) if "recommender" in name else None
        return results
    finally:
        stop(process)


def customer_ids(home: Path) -> list[str]:
    """Users with a history in the promoted model (customers the model personalizes for)."""
    import numpy as np
    import scipy.sparse as sp

    store = home / "bentoml" / "models" / "tailor"
    folder = store / (store / "latest").read_text().strip()
    history = sp.load_npz(folder / "history.npz")
    with np.load(folder / "arrays.npz") as arrays:
        ids = arrays["user_ids"]
    known = ids[np.diff(history.indptr) > 0]
    return [u for u in known.tolist() if not u.startswith("guest-")]


def engine_steps(home: Path, ids: list[str], seconds: float) -> dict:
    """ms per request of each step of a recommend answer, in process (cache off, the answer log
    written to /dev/null), for a lone request and for batches of 5; and candidates per user."""
    import gc
    import logging

    os.environ["BENTOML_HOME"] = str(home / "bentoml")
    import bentoml

    from serving import GC_THRESHOLDS
    from serving.engine import Engine
    from serving.logs import configure_logging
    from serving.schemas import RecommendRequest
    from serving.settings import load_settings

    configure_logging()
    logging.getLogger("tailor.serving").handlers[0].setStream(open(os.devnull, "w"))
    model = bentoml.models.get("tailor:latest")
    engine = Engine(load_settings({"TAILOR_HOME": str(home)}).model_copy(
        update={"cache_size": 0}))
    engine.load(Path(model.path), str(model.tag))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    requests = [(RecommendRequest(user_id=user, k=10), "benchmark") for user in ids]
    steps = {}
    for size in (1, 5):
        spent = {"prepare": 0.0, "booster": 0.0, "complete": 0.0}
        answered, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for first in range(0, len(requests) - size + 1, size):
                t0 = time.perf_counter()
                work = engine.prepare_recommend(requests[first:first + size])
                t1 = time.perf_counter()
                scored = work.score() if work.users else None
                t2 = time.perf_counter()
                engine.complete_recommend(work, scored)
                t3 = time.perf_counter()
                spent["prepare"] += t1 - t0
                spent["booster"] += t2 - t1
                spent["complete"] += t3 - t2
                answered += size
        steps[size] = {step: total * 1000 / answered for step, total in spent.items()}
    known = [u for u in (engine.state.user(user) for user in ids) if u is not None]
    batch, _ = engine.state.scorer.prepare(known)
    steps["candidates_per_user"] = batch.items.size / len(known)
    return steps


def write_report(path: Path, runs: dict[int, dict], steps: dict, args, command: str,
                 load: list[str], n_users: int, version: str) -> None:
    lines = [
        "# Serving benchmark",
        "",
        "The Recommender (`serving/service.py`) against trivial BentoML endpoints",
        "(`docs/benchmarks/trivial_service.py`: a constant answer), all under `bentoml serve` on",
        "127.0.0.1 with the same settings, driven by `wrk` with a Lua script POSTing",
        f"`{{\"user_id\": ..., \"k\": 10}}` cycling through {n_users:,} real customer ids of the",
        "promoted model (customers with a history). Produced by",
        "`docs/benchmarks/serving_benchmark.py`; its docstring says what is measured and how.",
        "",
        f"- Machine: {os.cpu_count()} CPU cores, {platform.platform()}, Python "
        f"{platform.python_version()}; wrk, the server and its workers share these cores",
        f"- Model: `tailor` version {version} from `tailor demo --tuning-trials 1`; "
        f"{steps['candidates_per_user']:.0f} candidates per customer on average",
        f"- Each run {args.duration} s after a {args.warmup} s warm-up (discarded)",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average (1, 5, 15 min) before "
        f"the benchmark: {load[0]} (later: {' / '.join(load[1:])}, which include the "
        f"benchmark's own load)",
        f"- Command: `{command}`",
        "",
    ]
    concurrent = LOADS_KEYS[1]
    for workers, cases in runs.items():
        trivial, same_api = cases["trivial"], cases["trivial, same API"]
        lines += [
            f"## {workers} worker{'s' if workers > 1 else ''} per service "
            f"(TAILOR_SERVING_WORKERS={workers})",
            "",
            "| case | load | p50 ms | p90 ms | p99 ms | req/s | errors | req/s vs trivial |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, result in cases.items():
            for load_name in LOADS:
                r = result[load_name]
                ratio = r["rps"] / trivial[load_name]["rps"]
                lines.append(f"| {name} | {load_name} | {r['p50_us'] / 1000:.2f} | "
                             f"{r['p90_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | "
                             f"{r['rps']:,.0f} | {r['errors']} | {ratio:.2f} |")
        model = cases["recommender, cache off"]
        seq, conc = model[LOADS_KEYS[0]], model[concurrent]
        ratio = conc["rps"] / trivial[concurrent]["rps"]
        same_ratio = conc["rps"] / same_api[concurrent]["rps"]
        default = cases["recommender, default settings"]
        default_ratio = default[concurrent]["rps"] / trivial[concurrent]["rps"]
        hit = default["cache_hit_rate"] or 0.0
        lines += [
            "",
            "Against the targets, every request computed (cache off): "
            f"sequential p50 {seq['p50_us'] / 1000:.2f} ms (target <= 3: "
            f"{'met' if seq['p50_us'] <= 3000 else 'NOT met'}), "
            f"p99 {seq['p99_us'] / 1000:.2f} ms (target <= 10: "
            f"{'met' if seq['p99_us'] <= 10000 else 'NOT met'}); "
            f"8 concurrent clients {conc['rps']:,.0f} req/s = {ratio:.2f} x the trivial "
            f"endpoint's throughput (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'}), "
            f"{same_ratio:.2f} x that of the trivial endpoint with the same API; errors: "
            f"{seq['errors'] + conc['errors']}. With the default settings the answer cache served "
            f"{hit:.0%} of the requests of these runs and the ratio is {default_ratio:.2f}.",
            "",
        ]
    one, five = steps[1], steps[5]
    total = {size: sum(steps[size].values()) for size in (1, 5)}
    lines += [
        "Latencies are wrk's, over loopback, including HTTP parsing, pydantic validation, JSON",
        "encoding, one JSON log line and Prometheus counters per answer. An uncached answer ranks",
        "all candidates of the customer with the XGBoost ranker (`ml/online/scorer.py`) and applies the",
        "business rules of `serving/rules.py` (stock, category diversity). On a machine shared",
        "with other work, a load average well above 0 before the benchmark means pessimistic",
        "numbers; from run to run on this machine the 8-client rates vary by about 5%.",
        "",
        "## Where the time of an uncached answer goes",
        "",
        "In process, without HTTP (`Engine`, cache off), ms per request:",
        "",
        "| step | a lone request | in batches of 5 |",
        "|---|---|---|",
        f"| prepare: cache lookups, who gets a personal answer (loop) | {one['prepare']:.3f} | "
        f"{five['prepare']:.3f} |",
        f"| score: candidates of 6 sources, 33 features, XGBoost (booster thread, compiled, "
        f"GIL released) | {one['booster']:.3f} | {five['booster']:.3f} |",
        f"| complete: ranking, rules, reasons, response, log line | {one['complete']:.3f} | "
        f"{five['complete']:.3f} |",
        f"| all | {total[1]:.3f} | {total[5]:.3f} |",
        "",
        "A worker is one event loop thread. Concurrent recommend requests are answered in",
        "micro-batches (`serving/batching.py`): the requests that arrive while one batch is being",
        "answered form the next, so 8 clients make batches of about 4-6; a batch shares one",
        "compiled candidate and feature pass and one XGBoost call, which run on a separate",
        "thread without the GIL while the loop prepares the next batch and answers the previous",
        "one (that thread gets the GIL back within 50 us: `serving.GIL_SWITCH_INTERVAL_S`).",
        "What bounds a worker is the loop thread's Python work: BentoML's own per request",
        "(the trivial endpoint's time per request), plus prepare and complete, which take longer",
        "inside the server than in process (the HTTP work in between evicts them from the CPU",
        "caches).",
        "",
        "Two worker settings were chosen by A/B runs of this benchmark (uncached throughput, one",
        "worker, when they were set): `serving.GC_THRESHOLDS` (generation 0 at 50,000 instead of",
        "700: at the default the cyclic GC ran every few requests and took 7% of a worker's",
        "throughput) and `serving.GIL_SWITCH_INTERVAL_S` (50 us: +6% over 0.2 ms, which was +3%",
        "over CPython's default of 5 ms).",
        "",
    ]
    path.write_text("\n".join(lines))


LOADS_KEYS = list(LOADS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path,
                        default=environment().home,
                        help="Tailor home with a promoted model (default: $TAILOR_HOME)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="BentoML workers per service; one set of runs per value")
    parser.add_argument("--out", type=Path, default=HERE / "serving.md")
    args = parser.parse_args()
    args.home = args.home.resolve()
    if shutil.which("wrk") is None:
        print("error: wrk not found; install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    if not (args.home / "bentoml" / "models" / "tailor" / "latest").exists():
        print(f"error: no promoted model in {args.home}; run `tailor demo` first",
              file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    script = work / "post.lua"
    script.write_text(LUA)
    ids = customer_ids(args.home)
    users = work / "users.txt"
    users.write_text("\n".join(ids) + "\n")
    print("in-process step timings", file=sys.stderr)
    steps = engine_steps(args.home, ids, seconds=3)
    port = free_port()
    argv, env = serve_command(args.home, "127.0.0.1", port)
    trivial_argv = [argv[0], "serve", "trivial_service:Trivial", "--working-dir", str(HERE),
                    "--host", "127.0.0.1", "--port", str(port)]
    runs: dict[int, dict] = {}
    load: list[str] = []
    for workers in args.workers:
        load.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
        base = {**env, "TAILOR_SERVING_WORKERS": str(workers)}
        cases: dict[str, dict] = {}
        for name, service in (("trivial", "Trivial"), ("trivial, same API", "TrivialSameApi")):
            print(f"{workers} worker(s): {name}", file=sys.stderr)
            trivial_argv[2] = f"trivial_service:{service}"
            cases[name] = benchmark_case(name, trivial_argv, base, HERE, port, args, script,
                                         users, work)
        for name, extra in (("recommender, cache off", {"TAILOR_SERVING_CACHE_SIZE": "0"}),
                            ("recommender, default settings", {})):
            print(f"{workers} worker(s): {name}", file=sys.stderr)
            cases[name] = benchmark_case(name, argv, {**base, **extra}, REPO, port, args, script,
                                         users, work)
        runs[workers] = cases
    load.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    version = runs[args.workers[0]]["recommender, cache off"]["probe"]["model_version"]
    command = (".venv/bin/python docs/benchmarks/serving_benchmark.py --home \"$TAILOR_HOME\""
               + (f" --workers {' '.join(map(str, args.workers))}"
                  if args.workers != [1, 2] else "")
               + (f" --duration {args.duration}" if args.duration != 15 else ""))
    write_report(args.out, runs, steps, args, command, load, len(ids), version)
    (work / "results.json").write_text(json.dumps(runs, indent=2, default=str))
    print(f"report: {args.out}; raw results: {work / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
