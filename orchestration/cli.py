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
        "demo",
        help="generate the synthetic store and run the whole pipeline",
        description="Generate the built-in synthetic store and run the whole pipeline through "
        "Dagster, then print a summary.",
    )
    _add_synthetic_options(demo)
    demo.set_defaults(handler=_demo)

    run = commands.add_parser(
        "run",
        help="run the pipeline on a chosen source",
        description="Run the whole pipeline on a source. online-retail and rees46 take the file "
        "as --events; files takes --events and optionally --products and --customers "
        "(format: docs/data-contract.md).",
    )
    run.add_argument("--source", choices=SOURCES, default="synthetic")
    run.add_argument("--events", type=Path, help="events file (CSV or Parquet)")
    run.add_argument("--products", type=Path, help="products file (files source only)")
    run.add_argument("--customers", type=Path, help="customers file (files source only)")
    run.add_argument("--as-of", help="reference time, ISO-8601 UTC (default: newest valid event)")
    _add_synthetic_options(run)
    run.set_defaults(handler=_run)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate the tuned model beside the baselines and print the table",
        description="Re-run the evaluation (validation and test windows, protocols all/new, "
        "hybrid vs popularity, repeat-purchase and ALS alone) on the current warehouse, print "
        "the metric table and write it as JSON.",
    )
    evaluate.add_argument("--out", type=Path, help="also write the JSON report here")
    evaluate.set_defaults(handler=_evaluate)

    recommend = commands.add_parser(
        "recommend",
        help="recommendations for one user from the promoted model",
        description="Top-k items for one user from the promoted model (unknown users get the "
        "trending fallback).",
    )
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("--k", type=_positive_int, default=10)
    recommend.add_argument("--json", action="store_true", help="machine-readable output")
    recommend.set_defaults(handler=_recommend)

    export = commands.add_parser(
        "export-recommendations",
        help="top-k for every known customer, to CSV or Parquet",
        description="Write top-k recommendations for every known customer (guests excluded) "
        "from the promoted model: user_id, rank, item_id, score, reason, model_version.",
    )
    export.add_argument("--k", type=_positive_int, default=10)
    export.add_argument("--out", type=Path, required=True, help="a .csv or .parquet file")
    export.set_defaults(handler=_export)

    status = commands.add_parser(
        "status",
        help="show what ran, row counts, quarantine and data-quality results",
        description="Show the state of this home: recent runs, table row counts, quarantine "
        "counts by reason and data-quality results.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    serve = commands.add_parser(
        "serve", help="serve the promoted model over HTTP (BentoML)",
        description="Start the BentoML Recommender service on the promoted model of this home "
        "(OpenAPI docs at /docs).")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(handler=_serve)

    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on this home",
        description="Start `dagster dev` (webserver and daemon) on workspace.yaml and this home.",
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui)
    return parser


def _add_synthetic_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--size",
        choices=("small", "1m"),
        default="small",
        help="synthetic store size: small (demo) or 1m (about a million events)",
    )
    parser.add_argument("--seed", type=int, default=7, help="synthetic store seed")
    parser.add_argument(
        "--tuning-trials",
        type=int,
        default=4,
        metavar="N",
        help="hyperparameter settings tried per stage (ALS, ranker); 1 = defaults",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {value}")
    return value


def _demo(args: argparse.Namespace, home: TailorHome) -> int:
    return _run(
        argparse.Namespace(
            source="synthetic",
            events=None,
            products=None,
            customers=None,
            as_of=None,
            size=args.size,
            seed=args.seed,
            tuning_trials=args.tuning_trials,
        ),
        home,
    )


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
    trials = max(args.tuning_trials, 1)
    tuning = {"model_tuning": {"als_trials": trials, "ranker_trials": trials}}
    outcome = run_outcome(run_pipeline(home, config, op_config=tuning))
    elapsed = time.monotonic() - started
    print(format_summary(collect_status(home), outcome, elapsed))
    return 1 if outcome == "failed" else 0


def run_outcome(result) -> str:
    """succeeded | not promoted (only the promotion gate said no: the champion keeps serving) |
    failed (a data check or a step failed)."""
    if result.success:
        return "succeeded"
    failed_steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    promotion_only = failed_steps and all(
        s.endswith("challenger_beats_champion") for s in failed_steps
    )
    return "not promoted" if promotion_only else "failed"


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
                "where table_type = 'BASE TABLE' order by 1, 2"
            ).fetchall()
            state["tables"] = {
                f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in tables
            }
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
                    "counts": {
                        t: {
                            "raw": int(info[f"raw_{t}_rows"]),
                            "loaded": int(info[f"loaded_{t}_rows"]),
                            "quarantined": sum(by_reason.get(t, {}).values()),
                        }
                        for t in ("events", "products", "customers")
                    },
                    "quarantine_by_reason": by_reason,
                }
        finally:
            con.close()
    state["data_quality"] = read_reports(home.reports, "data_quality")
    state["data_docs"] = str(home.data_docs / "index.html")
    models = read_reports(home.reports, "models")
    state["models"] = {
        "champion": _model_store(home).champion(),
        "evaluation": models.get("evaluation"),
        "promotion": models.get("promotion"),
        "tuning": models.get("tuning"),
    }
    return state


def _model_store(home: TailorHome):
    from orchestration.lib.model_store import ModelStore

    return ModelStore(bentoml_home=str(home.bentoml), artifacts=str(home.artifacts))


def _recent_runs(home: TailorHome, limit: int = 5) -> list[dict]:
    if not (home.dagster / "storage").exists() and not (home.dagster / "history").exists():
        return []
    import dagster as dg

    instance = dg.DagsterInstance.get()
    runs = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        runs.append(
            {
                "run_id": run.run_id,
                "job": run.job_name,
                "status": run.status.value,
                "started_at": record.start_time,
                "ended_at": record.end_time,
            }
        )
    return runs


def format_summary(state: dict, outcome: str, elapsed: float) -> str:
    headline = {
        "succeeded": "Pipeline succeeded",
        "not promoted": "Pipeline finished; the new model was NOT promoted (the champion "
        "keeps serving)",
        "failed": "Pipeline FAILED",
    }[outcome]
    return f"\n{headline} in {elapsed:.0f} s\n" + format_state(state)


def format_state(state: dict) -> str:
    lines = []
    load = state.get("load")
    if load:
        lines.append(f"Source {load['source']}, as of {load['as_of']}")
        for table, c in load["counts"].items():
            reasons = load["quarantine_by_reason"].get(table, {})
            detail = ", ".join(f"{r} {n}" for r, n in reasons.items()) or "none"
            lines.append(
                f"  {table:<10} raw {c['raw']:>9,}  loaded {c['loaded']:>9,}  "
                f"quarantined {c['quarantined']:>7,} ({detail})"
            )
    marts = {
        k: v
        for k, v in state["tables"].items()
        if k.split(".")[-1].startswith(("ml_", "fct_", "dim_"))
    }
    if marts:
        lines.append(
            "Feature marts: " + ", ".join(f"{k.split('.')[-1]} {v:,}" for k, v in marts.items())
        )
    quality = state.get("data_quality", {})
    if quality:
        lines.append(
            "Data quality: "
            + ", ".join(
                f"{name} {'pass' if q['success'] else 'FAIL'} ({q['successful']}/{q['evaluated']})"
                for name, q in quality.items()
            )
        )
        lines.append(f"Data Docs: {state['data_docs']}")
    models = state.get("models") or {}
    if models.get("evaluation"):
        lines.append(format_evaluation(models["evaluation"]))
    if models.get("promotion"):
        verdict = "promoted" if models["promotion"]["promote"] else "NOT promoted"
        lines.append(f"Promotion: {verdict}: " + "; ".join(models["promotion"]["reasons"]))
    if models.get("champion"):
        champion = models["champion"]
        lines.append(
            f"Serving model: {champion['tag']} (version {champion['metadata']['version']})"
        )
    return "\n".join(lines)


def format_evaluation(evaluation: dict) -> str:
    from orchestration.defs.assets.ranking import metric_table

    windows = evaluation["windows"]
    return (
        f"\nTest window {windows['test_start']} .. {windows['as_of']} "
        f"(model fit before {windows['test_start']}; full-catalog ranking)\n"
        + metric_table(evaluation["test"])
    )


def _status(args: argparse.Namespace, home: TailorHome) -> int:
    state = collect_status(home)
    if args.json:
        print(json.dumps(state, indent=2, default=str))
    else:
        print(f"Home {state['home']}")
        for run in state["runs"]:
            print(f"  run {run['run_id'][:8]} {run['job']} {run['status']}")
        print(format_state(state))
    return 0


def _evaluate(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.runner import run_pipeline

    if not run_pipeline(home, job_name="evaluate_tailor_job").success:
        print(
            "error: evaluation failed (has `tailor demo` or `tailor run` built the marts and "
            "tuning report in this home?)",
            file=sys.stderr,
        )
        return 1
    evaluation = collect_status(home)["models"]["evaluation"]
    print(format_evaluation(evaluation))
    if args.out:
        args.out.write_text(json.dumps(evaluation, indent=2))
        print(f"JSON: {args.out}")
    return 0


def _champion_bundle(home: TailorHome):
    from ml.bundle import load_bundle

    champion = _model_store(home).champion()
    if champion is None:
        print(
            "error: no promoted model in this home; run `tailor demo` or `tailor run` first",
            file=sys.stderr,
        )
        return None
    return load_bundle(Path(champion["path"]))


def _recommend(args: argparse.Namespace, home: TailorHome) -> int:
    bundle = _champion_bundle(home)
    if bundle is None:
        return 1
    recs = bundle.recommend(args.user, args.k)
    if args.json:
        print(
            json.dumps(
                {
                    "user_id": args.user,
                    "model_version": bundle.version,
                    "items": recs.to_dict(orient="records"),
                },
                indent=2,
            )
        )
    else:
        print(f"model {bundle.version}, user {args.user}")
        print(recs.to_string(index=False))
    return 0


def _export(args: argparse.Namespace, home: TailorHome) -> int:
    suffix = args.out.name.lower()
    if not suffix.endswith((".csv", ".parquet")):
        print(f"error: --out: {args.out} must end in .csv or .parquet", file=sys.stderr)
        return 2
    bundle = _champion_bundle(home)
    if bundle is None:
        return 1
    recs = bundle.recommend_all(args.k).assign(model_version=bundle.version)
    if suffix.endswith(".csv"):
        recs.to_csv(args.out, index=False)
    else:
        recs.to_parquet(args.out, index=False)
    print(f"{len(recs):,} recommendations for {recs['user_id'].nunique():,} users -> {args.out}")
    return 0


def _serve(args: argparse.Namespace, home: TailorHome) -> int:
    from serving import serve

    return serve(home, host=args.host, port=args.port)


def _ui(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.dbt_project import ensure_manifest

    ensure_manifest()
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(
        str(dagster),
        [
            str(dagster),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            args.host,
            "-p",
            str(args.port),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
