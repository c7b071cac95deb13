"""Benchmark: raw source -> validated features, i.e. one run of the Dagster job `build_tailor_job`.

Each case runs `orchestration.lib.runner.run_pipeline` (the path `tailor run` takes) in a fresh
subprocess on a fresh temporary TAILOR_HOME, so that imports, caches and peak memory are per case.
Measured inside that subprocess:

- wall time of `run_pipeline` (load + validate + dbt build + Great Expectations gates);
- peak RSS of the Python process (`ru_maxrss` of RUSAGE_SELF) and of the largest finished child
  (`ru_maxrss` of RUSAGE_CHILDREN: the dbt subprocess);
- time per Dagster step, from STEP_START to STEP_SUCCESS/STEP_FAILURE in the run's event log;
- row counts from raw.load_info, raw.quarantine and the feature marts in warehouse.duckdb.

Cases: the synthetic store at size "1m" (about a million events) and the full UCI Online Retail
file given by --online-retail. The table is printed and written to features.md beside this file.

    .venv/bin/python docs/benchmarks/features_benchmark.py \
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
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARTS = ("ml_user_item_interactions", "ml_user_features", "ml_item_features")
ROWS = ("raw events", "loaded events", "quarantined", *MARTS)
BASE_CONFIG = {"source": "synthetic", "events_path": None, "products_path": None,
               "customers_path": None, "synthetic_size": "1m", "synthetic_seed": 7, "as_of": None}


def run_case(config: dict, out: Path) -> None:
    """Child process: run the job once on TAILOR_HOME (set by the parent) and write out as JSON."""
    import dagster as dg
    import duckdb

    from orchestration.lib.env import tailor_home
    from orchestration.lib.runner import run_pipeline

    home = tailor_home()
    started = time.monotonic()
    result = run_pipeline(home, config)
    wall = time.monotonic() - started
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    steps: dict[str, dict] = {}
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            step = steps.setdefault(entry.step_key, {"start": entry.timestamp, "status": "?"})
            if event.event_type_value == "STEP_START":
                step["start"] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                step["seconds"] = entry.timestamp - step["start"]
                step["status"] = event.event_type_value.removeprefix("STEP_").lower()

    rows: dict[str, int | None] = {}
    if home.warehouse.exists():
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            raw, loaded = con.execute(
                "select raw_events_rows, loaded_events_rows from raw.load_info").fetchone()
            quarantined = con.execute(
                "select count(*) from raw.quarantine where table_name = 'events'").fetchone()[0]
            rows = {"raw events": raw, "loaded events": loaded, "quarantined": quarantined}
            for mart in MARTS:
                try:
                    rows[mart] = con.execute(f"select count(*) from main.{mart}").fetchone()[0]
                except duckdb.CatalogException:
                    rows[mart] = None
        finally:
            con.close()

    out.write_text(json.dumps({
        "success": result.success, "run_id": result.run_id, "wall_s": wall,
        "peak_self_mib": peak_self, "peak_children_mib": peak_children,
        "rows": rows, "steps": steps,
    }))


def bench(name: str, config: dict) -> dict:
    """Parent: run one case in a fresh interpreter with a fresh TAILOR_HOME."""
    home = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    out = home / "bench.json"
    env = {**os.environ, "TAILOR_HOME": str(home)}
    print(f"== {name} (home {home})", file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(config), str(out)],
                          env=env, cwd=HERE.parents[1])
    total = time.monotonic() - started
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"{name}: the child exited with {proc.returncode}; home kept at {home}")
    result = {"name": name, "process_s": total, **json.loads(out.read_text())}
    if result["success"]:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"{name}: the run FAILED; home kept at {home}", file=sys.stderr)
    return result


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def render(results: list[dict], command: str) -> str:
    header = ["case", "status", "pipeline s", "process s", "peak RSS MiB (python)",
              "peak RSS MiB (dbt child)", *ROWS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r["name"], "ok" if r["success"] else "FAILED", fmt(r["wall_s"]),
                 fmt(r["process_s"]), fmt(r["peak_self_mib"]), fmt(r["peak_children_mib"]),
                 *(fmt(r["rows"].get(k)) for k in ROWS)]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)

    step_names = dict.fromkeys(s for r in results for s in r["steps"])  # event-log order
    step_lines = ["| step | " + " | ".join(r["name"] for r in results) + " |",
                  "|" + "---|" * (len(results) + 1)]
    for step in step_names:
        cells = []
        for r in results:
            s = r["steps"].get(step)
            if s is None or s["status"] == "skipped":
                cells.append("-" if s is None else "skipped")
            else:
                seconds = f"{s['seconds']:.1f} s" if "seconds" in s else "?"
                cells.append(seconds if s["status"] == "success" else f"{seconds} ({s['status']})")
        step_lines.append(f"| {step} | " + " | ".join(cells) + " |")

    return "\n".join([
        "# Feature pipeline benchmark",
        "",
        "Raw source -> validated features: one run of the Dagster job `build_tailor_job` through",
        "`orchestration.lib.runner.run_pipeline`, each case in a fresh process and a fresh",
        "temporary TAILOR_HOME. Produced by `docs/benchmarks/features_benchmark.py` (its docstring",
        "says what is measured and how).",
        "",
        f"- Machine: {os.cpu_count()} CPU cores, {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        "- Numbers are from a single run; other work may have been running on the machine.",
        "",
        "*pipeline s*: `run_pipeline` alone; *process s*: the whole child process, imports",
        "included. *peak RSS (python)*: `ru_maxrss` of the process that runs Dagster, loading and",
        "validation; *(dbt child)*: `ru_maxrss` of its largest child, the dbt subprocess.",
        "*quarantined*: event rows quarantined by the data contract.",
        "",
        table,
        "",
        "## Time per step",
        "",
        "From STEP_START to STEP_SUCCESS in the run's Dagster event log.",
        "",
        *step_lines,
        "",
    ])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        run_case(json.loads(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--online-retail", type=Path, required=True,
                        help="the UCI Online Retail file (Parquet or CSV)")
    parser.add_argument("--synthetic-size", choices=("small", "1m"), default="1m")
    args = parser.parse_args()
    if not args.online_retail.exists():
        parser.error(f"--online-retail: {args.online_retail} does not exist")

    results = [
        bench(f"synthetic {args.synthetic_size}",
              {**BASE_CONFIG, "synthetic_size": args.synthetic_size}),
        bench("online-retail (full)", {**BASE_CONFIG, "source": "online-retail",
                                       "events_path": str(args.online_retail.resolve())}),
    ]
    command = ".venv/bin/python docs/benchmarks/features_benchmark.py --online-retail " \
              "/path/to/online_retail.parquet"
    if args.synthetic_size != "1m":
        command += f" --synthetic-size {args.synthetic_size}"
    report = render(results, command)
    print(report)
    (HERE / "features.md").write_text(report)


if __name__ == "__main__":
    main()
