"""`tailor`: the command line of the platform. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from orchestration.lib.env import REPO_ROOT, TailorHome, configure_environment

SOURCES = ("synthetic", "online-retail", "rees46", "files")
PLACEMENTS = ("homepage", "product_page", "cart", "email")  # serving.schemas.Placement


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
    run.add_argument(
        "--sep",
        help="CSV separator of the files source: one character or tab, comma, semicolon, pipe "
        "(default: found from each file's header)",
    )
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
        description="Top-k items for one user from the promoted model: the answer of the HTTP "
        "service's /recommend (the same engine, consent decision, business rules and serving "
        "settings, TAILOR_SERVING_*). Visitors the model does not know and customers without "
        "personalization consent get the non-personalized answer, marked as such.",
    )
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("--k", type=_k, default=10, help="items (1-100)")
    recommend.add_argument("--placement", choices=PLACEMENTS, default="homepage")
    recommend.add_argument("--json", action="store_true", help="the service's JSON answer")
    recommend.set_defaults(handler=_recommend)

    export = commands.add_parser(
        "export-recommendations",
        help="top-k for every known customer, to CSV or Parquet",
        description="Write top-k recommendations for every customer the promoted model knows "
        "(guests excluded), answered as the service's /recommend answers them: user_id, rank, "
        "item_id, title, category, score, source, reason, personalized (false for customers "
        "without personalization consent, who get the non-personalized list), fallback_reason, "
        "model_version.",
    )
    export.add_argument("--k", type=_k, default=10, help="items per customer (1-100)")
    export.add_argument("--placement", choices=PLACEMENTS, default="email")
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

    report = commands.add_parser(
        "report",
        help="write the governance page and print its path",
        description="Write <home>/reports/index.html: per model version its model card (data "
        "window, features, parameters, metrics, promotion decision), the data-quality results, "
        "the drift reports and the evaluation table, all as relative links.",
    )
    report.set_defaults(handler=_report)

    simulate = commands.add_parser(
        "simulate-drift",
        help="append new synthetic days, report drift, retrain if the sensor asks",
        description="Append new days to this home's warehouse (the shop's recent sessions "
        "resampled forward in time; --shift taste moves users' interest to another category, "
        "new-category brings a new product category, none keeps the same process), run the "
        "transforms and drift reports through Dagster, evaluate retrain_on_drift_sensor on this "
        "home's instance and, when it requests a run, execute retrain_tailor_job. The days stay "
        "in the warehouse (a new `tailor demo` starts over).",
    )
    simulate.add_argument("--days", type=int, default=7, help="days to append (1-90)")
    simulate.add_argument(
        "--shift", choices=("taste", "new-category", "none"), default="taste", help="what changes"
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed of the new days")
    simulate.add_argument(
        "--tuning-trials",
        type=int,
        default=4,
        metavar="N",
        help="hyperparameter settings tried per stage when retraining; 1 = defaults",
    )
    simulate.set_defaults(handler=_simulate_drift)

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


def _k(text: str) -> int:
    """How many items: the service's limit (serving.schemas.K)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100, got {value}")
    return value


def _demo(args: argparse.Namespace, home: TailorHome) -> int:
    return _run(demo_as_run(args), home)


def demo_as_run(args: argparse.Namespace) -> argparse.Namespace:
    """`tailor demo` is `tailor run --source synthetic` with the demo's options: parsed by the run
    parser, so every option `run` has gets its default."""
    return build_parser().parse_args(["run", "--source", "synthetic", "--size", args.size,
                                      "--seed", str(args.seed),
                                      "--tuning-trials", str(args.tuning_trials)])


def _run(args: argparse.Namespace, home: TailorHome) -> int:
    if args.source != "synthetic" and args.events is None:
        print(f"error: --events: source {args.source} needs a file", file=sys.stderr)
        return 2
    for flag in ("events", "products", "customers"):
        path = getattr(args, flag)
        if path is not None and not path.exists():
            print(f"error: --{flag}: {path} does not exist", file=sys.stderr)
            return 2
    if args.sep is not None and args.source != "files":
        print(f"error: --sep: only the files source takes a separator, not {args.source}",
              file=sys.stderr)
        return 2
    if args.source == "files":
        from ml.sources.files import check_files

        # Headers first: a wrong column costs a second here, not a Dagster start-up.
        problems = check_files(args.events, args.products, args.customers, args.sep)
        if problems:
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            return 2
    config = {
        "source": args.source,
        "events_path": str(args.events.resolve()) if args.events else None,
        "products_path": str(args.products.resolve()) if args.products else None,
        "customers_path": str(args.customers.resolve()) if args.customers else None,
        "synthetic_size": args.size,
        "synthetic_seed": args.seed,
        "as_of": args.as_of,
        "sep": args.sep,
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
                    "select table_name, reason, count(*) from raw.quarantine "
                    "group by all order by all"
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
    state["drift"] = read_reports(home.reports, "drift")
    state["governance"] = str(home.reports / "index.html")
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
    drift = state.get("drift") or {}
    if drift:
        lines.append(format_drift(drift))
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


def format_drift(drift: dict) -> str:
    """One line per drift report: share of drifted columns, which, against which model."""
    lines = []
    for name in ("feature_drift", "prediction_drift", "target_drift"):
        report = drift.get(name)
        if report is None:
            continue
        label = name.replace("_", " ")
        if report["status"] != "ok":
            lines.append(f"  {label}: no reference ({report.get('reason', '')})")
            continue
        drifted = ", ".join(report["drifted_columns"]) or "none"
        verdict = ""
        if name == "feature_drift":
            verdict = " RETRAIN" if report["dataset_drift"] else " quiet"
            verdict += f" (threshold {report['retrain_threshold']:.2f})"
        lines.append(
            f"  {label}: {len(report['drifted_columns'])}/{report['n_columns']} columns drifted, "
            f"share {report['drift_share']:.2f}{verdict}; drifted: {drifted}"
        )
    reference = next((r for r in drift.values() if r.get("reference_model")), None)
    against = f" vs {reference['reference_model']}" if reference else ""
    return f"Drift (last {next(iter(drift.values()))['window_days']} days{against}):\n" + "\n".join(
        lines
    )


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


def _champion_engine(home: TailorHome):
    """The serving engine on the promoted model, with the service's settings (no answer cache,
    no answer logs: one process, one pass)."""
    champion = _model_store(home).champion()
    if champion is None:
        print(
            "error: no promoted model in this home; run `tailor demo` or `tailor run` first",
            file=sys.stderr,
        )
        return None
    from serving.engine import engine_for
    from serving.rules import load_settings

    settings = load_settings().model_copy(update={"cache_size": 0, "request_logs": False})
    return engine_for(Path(champion["path"]), champion["tag"], settings)


def _recommend(args: argparse.Namespace, home: TailorHome) -> int:
    import uuid

    from pydantic import ValidationError

    from serving.schemas import RecommendRequest

    try:
        request = RecommendRequest(user_id=args.user, k=args.k, placement=args.placement)
    except ValidationError as error:
        problem = error.errors()[0]
        flag = {"user_id": "--user"}.get(problem["loc"][0], f"--{problem['loc'][0]}")
        print(f"error: {flag}: {problem['msg']}", file=sys.stderr)
        return 2
    engine = _champion_engine(home)
    if engine is None:
        return 1
    answer = engine.recommend(request, f"cli-{uuid.uuid4()}")
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    import pandas as pd

    personal = "yes" if answer.personalized else f"no ({answer.fallback_reason})"
    print(f"model {answer.model_version}, user {args.user}, placement {answer.placement}, "
          f"personalized: {personal}")
    table = pd.DataFrame([item.model_dump() for item in answer.items])
    table.insert(0, "rank", range(1, len(table) + 1))
    columns = ["rank", "item_id", "title", "category", "source", "reason", "score"]
    print(table[columns].to_string(index=False, max_colwidth=40))
    return 0


def export_rows(engine, k: int, placement: str = "email", chunk: int = 1024):
    """Every known customer's answer, as the service gives it, one row per item."""
    import uuid

    import pandas as pd

    from serving.schemas import RecommendRequest

    rows = []
    customers = engine.state.customer_ids()
    for start in range(0, len(customers), chunk):
        requests = [(RecommendRequest(user_id=user, k=k, placement=placement),
                     f"export-{uuid.uuid4()}") for user in customers[start : start + chunk]]
        for (request, _), answer in zip(requests, engine.recommend_many(requests), strict=True):
            for rank, item in enumerate(answer.items, start=1):
                rows.append({"user_id": request.user_id, "rank": rank, **item.model_dump(),
                             "personalized": answer.personalized,
                             "fallback_reason": answer.fallback_reason,
                             "model_version": answer.model_version})
    columns = ["user_id", "rank", "item_id", "title", "category", "score", "source", "reason",
               "personalized", "fallback_reason", "model_version"]
    return pd.DataFrame(rows, columns=columns)


def _export(args: argparse.Namespace, home: TailorHome) -> int:
    suffix = args.out.name.lower()
    if not suffix.endswith((".csv", ".parquet")):
        print(f"error: --out: {args.out} must end in .csv or .parquet", file=sys.stderr)
        return 2
    engine = _champion_engine(home)
    if engine is None:
        return 1
    recs = export_rows(engine, args.k, args.placement)
    if suffix.endswith(".csv"):
        recs.to_csv(args.out, index=False)
    else:
        recs.to_parquet(args.out, index=False)
    users = recs.drop_duplicates("user_id")
    print(f"{len(recs):,} recommendations for {len(users):,} customers "
          f"({int(users['personalized'].sum()):,} personalized, "
          f"{int((~users['personalized']).sum()):,} not: "
          + (", ".join(f"{reason} {count:,}" for reason, count in
                       users["fallback_reason"].value_counts().items()) or "none")
          + f") -> {args.out}")
    return 0


def _report(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.governance import write_governance_page

    print(write_governance_page(home.reports, _model_store(home)))
    return 0


def _simulate_drift(args: argparse.Namespace, home: TailorHome) -> int:
    """New data -> drift reports -> sensor -> retraining -> promotion, one stage a line."""
    from ml.drift_simulation import DriftParams

    if not 1 <= args.days <= 90:
        print(f"error: --days: must be between 1 and 90, got {args.days}", file=sys.stderr)
        return 2
    before = _model_store(home).champion()
    if before is None or not home.warehouse.exists():
        print("error: no promoted model in this home; run `tailor demo` first", file=sys.stderr)
        return 1
    import dagster as dg

    from orchestration.lib.runner import run_pipeline

    started = time.monotonic()
    batch = append_simulated_days(home, DriftParams(args.days, args.shift, args.seed))
    print(f"[1/4] new data: {batch.describe()}", flush=True)

    result = run_pipeline(home, job_name="monitor_tailor_job")
    if not result.success:
        print("[2/4] FAILED: the new data did not pass transforms and checks (see above)")
        return 1
    state = collect_status(home)
    elapsed = time.monotonic() - started
    print(f"[2/4] drift reports ({elapsed:.0f} s)\n" + format_drift(state["drift"]))
    print(f"      reports: {home.reports / state['drift']['feature_drift']['folder']}", flush=True)

    request = evaluate_retrain_sensor(home)
    if not isinstance(request, dg.RunRequest):
        print(f"[3/4] retrain_on_drift_sensor: no run requested ({request.skip_message})")
        print(f"Done in {time.monotonic() - started:.0f} s; {before['tag']} keeps serving.")
        return 0
    print(
        "[3/4] retrain_on_drift_sensor requested retrain_tailor_job "
        f"(run_key {request.run_key[:8]}, drift share {request.tags['tailor/drift_share']})",
        flush=True,
    )
    trials = max(args.tuning_trials, 1)
    tuning = {"model_tuning": {"als_trials": trials, "ranker_trials": trials}}
    outcome = run_outcome(
        run_pipeline(home, job_name="retrain_tailor_job", op_config=tuning, tags=request.tags)
    )
    after = _model_store(home).champion()
    promotion = collect_status(home)["models"]["promotion"] or {"reasons": []}
    if outcome == "succeeded" and after["tag"] != before["tag"]:
        print(
            f"[4/4] retrained and promoted {after['tag']} (version "
            f"{after['metadata']['version']}), replacing {before['tag']}: "
            + "; ".join(promotion["reasons"])
        )
    elif outcome == "not promoted":
        print(
            f"[4/4] retrained, NOT promoted; {before['tag']} keeps serving: "
            + "; ".join(promotion["reasons"])
        )
    else:
        print(f"[4/4] retraining FAILED; {before['tag']} keeps serving")
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 1 if outcome == "failed" else 0


def append_simulated_days(home: TailorHome, params):
    """Append `ml.drift_simulation` days to raw.events / products / customers and move
    raw.load_info's as_of (what a shop's loader does when a batch arrives); returns the batch."""
    from datetime import datetime

    import duckdb
    import pandas as pd

    from ml.drift_simulation import simulate_days
    from ml.sources.contract import RawSource, validate_source

    con = duckdb.connect(str(home.warehouse))
    try:
        events = con.execute("select * from raw.events").df()
        products = con.execute("select * from raw.products").df()
        customers = con.execute("select * from raw.customers").df()
        as_of = pd.Timestamp(con.execute("select as_of from raw.load_info").fetchone()[0])
        batch = simulate_days(events, products, customers, as_of, params)
        # The same contract as any load; the batch is built to pass it.
        checked = validate_source(
            RawSource("simulated", batch.events, batch.products, batch.customers),
            now=batch.window_end,
        )
        if len(checked.quarantine):
            reasons = checked.quarantine["reason"].value_counts().to_dict()
            raise ValueError(f"the simulated batch broke the data contract: {reasons}")
        con.execute("begin transaction")
        for table in ("events", "products", "customers"):
            frame = getattr(checked, table)
            con.register("incoming", frame)
            con.execute(f"insert into raw.{table} by name select * from incoming")
            con.unregister("incoming")
        con.execute(
            "update raw.load_info set as_of = ?, loaded_at = ?, "
            "raw_events_rows = raw_events_rows + ?, loaded_events_rows = loaded_events_rows + ?, "
            "raw_products_rows = raw_products_rows + ?, "
            "loaded_products_rows = loaded_products_rows + ?, "
            "raw_customers_rows = raw_customers_rows + ?, "
            "loaded_customers_rows = loaded_customers_rows + ?",
            [
                batch.as_of.to_pydatetime(),
                datetime.utcnow(),
                *[len(getattr(checked, t)) for t in ("events", "events", "products", "products")],
                len(checked.customers),
                len(checked.customers),
            ],
        )
        con.execute("commit")
    finally:
        con.close()
    return batch


def evaluate_retrain_sensor(home: TailorHome):
    """retrain_on_drift_sensor on this home's instance: its RunRequest, or its SkipReason."""
    import dagster as dg

    from orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("retrain_on_drift_sensor")
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    if data.run_requests:
        return data.run_requests[0]
    return dg.SkipReason(data.skip_message or "no new feature_drift_report")


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


if __name__ == "__main__":
    sys.exit(main())
