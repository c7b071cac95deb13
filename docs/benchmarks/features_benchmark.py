"""Benchmark: raw source -> validated features, i.e. one run of the Dagster job `build_features_job`.

Each case runs `orchestration.lib.runner.run_pipeline` (the path `tailor run` takes) in a fresh
subprocess on a fresh temporary TAILOR_HOME, so that imports, caches and peak memory are per case.
Measured inside that subprocess:

- wall time of `run_pipeline` (load + validate + dbt build + Great Expectations gates);
- peak RSS: `ru_maxrss` of RUSAGE_SELF (the Python process: Dagster, loading, validation, GE) and
  of RUSAGE_CHILDREN (its largest finished child). The latter is an upper bound only: Dagster's
  compute-log `tail` children are forked from the Python process and Linux keeps the parent's
  RSS as their high-water mark. So the process tree is also sampled with psutil every 0.1 s: the
  peak of the dbt subprocess alone and the peak of the whole tree (sum of RSS);
- time per Dagster step, from STEP_START to STEP_SUCCESS/STEP_FAILURE in the run's event log;
- row counts from raw.load_info, raw.quarantine and the feature marts in warehouse.duckdb.

Cases: the synthetic store at size "1m" (about a million events) and the full UCI Online Retail
file given by --online-retail. The tables are printed and written to features.md beside this file:

    .venv/bin/python docs/benchmarks/features_benchmark.py \\
        --online-retail /path/to/online_retail.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARTS = ("ml_pit_user_item_features", "ml_pit_user_features", "ml_pit_item_features")
ROWS = ("raw events", "loaded events", "quarantined", *MARTS)
MEMORY = {
    "self_mib": "python MiB",
    "children_mib": "children MiB (upper bound)",
    "dbt_mib": "dbt MiB (sampled)",
    "tree_mib": "tree MiB (sampled)",
}
BASE_CONFIG = {
    "source": "synthetic",
    "events_path": None,
    "products_path": None,
    "customers_path": None,
    "synthetic_size": "1m",
    "synthetic_seed": 7,
    "as_of": None,
}


def sample_tree(peaks: dict, stop: threading.Event) -> None:
    """Record the peak RSS of the dbt subprocess and of this process with all its descendants."""
    import psutil

    me = psutil.Process()
    while not stop.wait(0.1):
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                rss = child.memory_info().rss
                if any(Path(arg).name == "dbt" for arg in child.cmdline()[:3]):
                    peaks["dbt"] = max(peaks["dbt"], rss)
            except psutil.Error:  # it ended between the listing and the reading
                continue
            total += rss
        peaks["tree"] = max(peaks["tree"], total)


def run_case(config: dict, out: Path) -> None:
    """Child process: run the job once on TAILOR_HOME (set by the parent), write results as JSON."""
    import dagster as dg
    import duckdb

    from orchestration.lib.env import tailor_home
    from orchestration.lib.runner import run_pipeline

    home = tailor_home()
    peaks, stop = {"dbt": 0, "tree": 0}, threading.Event()
    sampler = threading.Thread(target=sample_tree, args=(peaks, stop), daemon=True)
    sampler.start()
    started = time.monotonic()
    result = run_pipeline(home, config, job_name="build_features_job")
    wall = time.monotonic() - started
    stop.set()
    sampler.join()
    memory = {
        "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB
        "children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "dbt_mib": peaks["dbt"] / 2**20 or None,
        "tree_mib": peaks["tree"] / 2**20,
    }

    steps: dict[str, dict] = {}
    failures: list[str] = []
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        for entry in instance.all_logs(result.run_id):
            event, kind = entry.dagster_event, entry.dagster_event_type
            if event is None or not entry.step_key:
                continue
            step = steps.setdefault(entry.step_key, {"start": None, "status": "not run"})
            if kind == "STEP_START":
                step.update(start=entry.timestamp, status="running")
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                step["status"] = kind.removeprefix("STEP_").lower()
                if step["start"] is not None:
                    step["seconds"] = entry.timestamp - step["start"]
            if kind == "STEP_FAILURE":
                error = event.step_failure_data.error
                while error.cause is not None:  # the user-code error, not Dagster's wrapper
                    error = error.cause
                failures.append(f"step {entry.step_key}: {' '.join(error.message.split())}")
            elif kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
                check = event.event_specific_data
                failures.append(f"check {check.check_name}: {check.description}")

    rows: dict[str, int | None] = {}
    if home.warehouse.exists():
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            raw, loaded = con.execute(
                "select raw_events_rows, loaded_events_rows from raw.load_info"
            ).fetchone()
            quarantined = con.execute(
                "select count(*) from raw.quarantine where table_name = 'events'"
            ).fetchone()[0]
            rows = {"raw events": raw, "loaded events": loaded, "quarantined": quarantined}
            for mart in MARTS:
                try:
                    rows[mart] = con.execute(  # the served fit's rows: one cutoff of many
                        f"select count(*) from main.{mart} where cutoff_id = 'serve'"
                    ).fetchone()[0]
                except duckdb.CatalogException:  # not built: a blocking check failed upstream
                    rows[mart] = None
        finally:
            con.close()

    out.write_text(
        json.dumps(
            {
                "success": result.success,
                "wall_s": wall,
                "memory": memory,
                "rows": rows,
                "steps": steps,
                "failures": failures,
            }
        )
    )


def bench(name: str, config: dict) -> dict:
    """Parent: run one case in a fresh interpreter with a fresh TAILOR_HOME."""
    home = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    out = home / "bench.json"
    print(f"== {name} (home {home})", file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(config), str(out)],
        env={**os.environ, "TAILOR_HOME": str(home)},
        cwd=HERE.parents[1],
    )
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"{name}: the child exited with {proc.returncode}; home kept at {home}")
    result = {"name": name, "process_s": time.monotonic() - started, **json.loads(out.read_text())}
    if result["success"]:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"{name}: the run FAILED; home kept at {home}", file=sys.stderr)
    return result


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render(results: list[dict], command: str) -> str:
    main_table = md_table(
        ["case", "status", "pipeline s", "process s", *MEMORY.values(), *ROWS],
        [
            [
                r["name"],
                "ok" if r["success"] else "FAILED",
                fmt(r["wall_s"]),
                fmt(r["process_s"]),
                *(fmt(r["memory"][k]) for k in MEMORY),
                *(fmt(r["rows"].get(k)) for k in ROWS),
            ]
            for r in results
        ],
    )

    def cell(step: dict | None) -> str:
        if step is None or "seconds" not in step:
            return "-" if step is None else step["status"]
        seconds = f"{step['seconds']:.1f}"
        return seconds if step["status"] == "success" else f"{seconds} {step['status']}"

    starts = {s: v["start"] or float("inf") for r in results[::-1] for s, v in r["steps"].items()}
    step_table = md_table(
        ["step (seconds)", *(r["name"] for r in results)],
        [[s, *(cell(r["steps"].get(s)) for r in results)] for s in sorted(starts, key=starts.get)],
    )  # in order of start
    failures = [f"- {r['name']}: {f}" for r in results for f in r["failures"]] or ["- none"]

    return "\n".join(
        [
            "# Feature pipeline benchmark",
            "",
            "Raw source -> validated features: one run of the Dagster job `build_features_job` through",
            "`orchestration.lib.runner.run_pipeline`, each case in a fresh process and a fresh",
            "temporary TAILOR_HOME. Produced by `docs/benchmarks/features_benchmark.py`; its docstring",
            "says what is measured and how.",
            "",
            f"- Machine: {os.cpu_count()} CPU cores, {platform.platform()}, "
            f"Python {platform.python_version()}",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Command: `{command}`",
            "- Numbers are from a single run; other work may have been running on the machine.",
            "",
            "*pipeline s*: `run_pipeline` alone; *process s*: the whole child process, imports",
            "included. Memory is peak RSS: *python* is `ru_maxrss` of the process running Dagster,",
            "loading, validation and the GE suites; *children* is `ru_maxrss` of RUSAGE_CHILDREN, an",
            "upper bound (forked children inherit the parent's RSS as their high-water mark); *dbt*",
            "and *tree* (the process plus all descendants, summed) are sampled every 0.1 s.",
            "*quarantined*: event rows quarantined by the data contract; n/a: table not built.",
            "",
            *main_table,
            "",
            "## Time per step",
            "",
            "From STEP_START to STEP_SUCCESS in the run's Dagster event log, in seconds.",
            "",
            *step_table,
            "",
            "## Failed steps and checks",
            "",
            *failures,
            "",
        ]
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        run_case(json.loads(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--online-retail",
        type=Path,
        required=True,
        help="the UCI Online Retail file (Parquet or CSV)",
    )
    parser.add_argument("--synthetic-size", choices=("small", "1m"), default="1m")
    args = parser.parse_args()
    if not args.online_retail.exists():
        parser.error(f"--online-retail: {args.online_retail} does not exist")

    results = [
        bench(
            f"synthetic {args.synthetic_size}",
            {**BASE_CONFIG, "synthetic_size": args.synthetic_size},
        ),
        bench(
            "online-retail (full)",
            {
                **BASE_CONFIG,
                "source": "online-retail",
                "events_path": str(args.online_retail.resolve()),
            },
        ),
    ]
    command = (
        ".venv/bin/python docs/benchmarks/features_benchmark.py "
        "--online-retail /path/to/online_retail.parquet"
    )
    if args.synthetic_size != "1m":
        command += f" --synthetic-size {args.synthetic_size}"
    report = render(results, command)
    print(report)
    (HERE / "features.md").write_text(report)


if __name__ == "__main__":
    main()
