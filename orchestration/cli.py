"""`tailor`: the command line of the platform. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from orchestration.lib.env import REPO_ROOT, TailorHome, configure_environment

SOURCES = ("synthetic", "online-retail", "rees46", "files")


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

    demo = commands.add_parser(
        "demo", help="generate the synthetic store and run the whole pipeline",
        description="Generate the built-in synthetic store and run the whole pipeline through "
        "Dagster, then print a summary.")
    _add_synthetic_options(demo)
    demo.set_defaults(handler=_demo)

    run = commands.add_parser(
        "run", help="run the pipeline on a chosen source",
        description="Run the whole pipeline on a source. online-retail and rees46 take the file "
        "as --events; files takes --events and optionally --products and --customers "
        "(format: docs/data-contract.md).")
    run.add_argument("--source", choices=SOURCES, default="synthetic")
    run.add_argument("--events", type=Path, help="events file (CSV or Parquet)")
    run.add_argument("--products", type=Path, help="products file (files source only)")
    run.add_argument("--customers", type=Path, help="customers file (files source only)")
    run.add_argument("--as-of", help="reference time, ISO-8601 UTC (default: newest valid event)")
    _add_synthetic_options(run)
    run.set_defaults(handler=_run)

    status = commands.add_parser(
        "status", help="show what ran, row counts, quarantine and data-quality results",
        description="Show the state of this home: recent runs, table row counts, quarantine "
        "counts by reason and data-quality results.")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    ui = commands.add_parser(
        "ui", help="start the Dagster UI on this home",
        description="Start `dagster dev` (webserver and daemon) on workspace.yaml and this home.")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui)
    return parser


def _add_synthetic_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("small", "1m"), default="small",
                        help="synthetic store size: small (demo) or 1m (about a million events)")
    parser.add_argument("--seed", type=int, default=7, help="synthetic store seed")


def _demo(args: argparse.Namespace, home: TailorHome) -> int:
    return _run(argparse.Namespace(source="synthetic", events=None, products=None, customers=None,
                                   as_of=None, size=args.size, seed=args.seed), home)


def _run(args: argparse.Namespace, home: TailorHome) -> int:
    if args.source != "synthetic" and args.events is None:
        print(f"error: --events: source {args.source} needs a file", file=sys.stderr)
        return 2
    for flag in ("events", "products", "customers"):
        path = getattr(args, flag)
        if path is not None and not path.exists():
            print(f"error: --{flag}: {path} does not exist", file=sys.stderr)
            return 2
    config = {
        "source": args.source,
        "events_path": str(args.events.resolve()) if args.events else None,
        "products_path": str(args.products.resolve()) if args.products else None,
        "customers_path": str(args.customers.resolve()) if args.customers else None,
        "synthetic_size": args.size,
        "synthetic_seed": args.seed,
        "as_of": args.as_of,
    }
    from orchestration.lib.runner import run_pipeline

    print(f"tailor: running the pipeline on {args.source} (home {home.root})", file=sys.stderr)
    started = time.monotonic()
    success = run_pipeline(home, config).success
    elapsed = time.monotonic() - started
    state = collect_status(home)
    print(format_summary(state, success, elapsed))
    return 0 if success else 1


def collect_status(home: TailorHome) -> dict:
    """Everything `tailor status --json` reports; also the source of the run summary."""
    from orchestration.lib.reports import read_reports

    state: dict = {"home": str(home.root), "runs": _recent_runs(home), "load": None, "tables": {}}
    if home.warehouse.exists():
        import duckdb

        con = duckdb.connect(str(home.warehouse))
        try:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' order by 1, 2").fetchall()
            state["tables"] = {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                               for s, t in tables}
            if "raw.load_info" in state["tables"]:
                info = con.execute("select * from raw.load_info").df().iloc[0].to_dict()
                quarantine = con.execute(
                    "select table_name, reason, count(*) from raw.quarantine group by all order by all"
                ).fetchall()
                by_reason: dict[str, dict[str, int]] = {}
                for table, reason, count in quarantine:
                    by_reason.setdefault(table, {})[reason] = count
                state["load"] = {
                    "source": info["source"],
                    "as_of": str(info["as_of"]),
                    "counts": {t: {"raw": int(info[f"raw_{t}_rows"]),
                                   "loaded": int(info[f"loaded_{t}_rows"]),
                                   "quarantined": sum(by_reason.get(t, {}).values())}
                               for t in ("events", "products", "customers")},
                    "quarantine_by_reason": by_reason,
                }
        finally:
            con.close()
    state["data_quality"] = read_reports(home.reports, "data_quality")
    state["data_docs"] = str(home.data_docs / "index.html")
    return state


def _recent_runs(home: TailorHome, limit: int = 5) -> list[dict]:
    if not (home.dagster / "storage").exists() and not (home.dagster / "history").exists():
        return []
    import dagster as dg

    instance = dg.DagsterInstance.get()
    runs = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        runs.append({
            "run_id": run.run_id,
            "job": run.job_name,
            "status": run.status.value,
            "started_at": record.start_time,
            "ended_at": record.end_time,
        })
    return runs


def format_summary(state: dict, success: bool, elapsed: float) -> str:
    lines = [f"\nPipeline {'succeeded' if success else 'FAILED'} in {elapsed:.0f} s"]
    load = state.get("load")
    if load:
        lines.append(f"Source {load['source']}, as of {load['as_of']}")
        for table, c in load["counts"].items():
            reasons = load["quarantine_by_reason"].get(table, {})
            detail = ", ".join(f"{r} {n}" for r, n in reasons.items()) or "none"
            lines.append(f"  {table:<10} raw {c['raw']:>9,}  loaded {c['loaded']:>9,}  "
                         f"quarantined {c['quarantined']:>7,} ({detail})")
    marts = {k: v for k, v in state["tables"].items() if k.split(".")[-1].startswith(("ml_", "fct_", "dim_"))}
    if marts:
        lines.append("Feature marts: " + ", ".join(f"{k.split('.')[-1]} {v:,}" for k, v in marts.items()))
    quality = state.get("data_quality", {})
    if quality:
        lines.append("Data quality: " + ", ".join(
            f"{name} {'pass' if q['success'] else 'FAIL'} ({q['successful']}/{q['evaluated']})"
            for name, q in quality.items()))
        lines.append(f"Data Docs: {state['data_docs']}")
    return "\n".join(lines)


def _status(args: argparse.Namespace, home: TailorHome) -> int:
    state = collect_status(home)
    if args.json:
        print(json.dumps(state, indent=2, default=str))
    else:
        print(f"Home {state['home']}")
        for run in state["runs"]:
            print(f"  run {run['run_id'][:8]} {run['job']} {run['status']}")
        print(format_summary(state, success=bool(state["runs"]) and state["runs"][0]["status"] == "SUCCESS",
                             elapsed=0.0).split("\n", 2)[-1])
    return 0


def _ui(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.dbt_project import ensure_manifest

    ensure_manifest()
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                            "-h", args.host, "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
