"""`tailor status`, `tailor report`: what this home holds (runs, tables, quality, drift, models).

`collect_status` is also what `demo`, `run`, `evaluate` and `simulate-drift` print their
results from.
"""

from __future__ import annotations

import argparse
import json
import sys

from orchestration.lib.env import TailorHome


def add_parsers(commands) -> None:
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


def _report(args: argparse.Namespace, home: TailorHome) -> int:
    from orchestration.lib.runner import run_pipeline

    if not run_pipeline(home, assets=["governance_page"]).success:
        print("error: the governance page failed (see the run in `tailor ui`)", file=sys.stderr)
        return 1
    print(home.reports / "index.html")
    return 0


def collect_status(home: TailorHome) -> dict:
    """Everything `tailor status --json` reports; also the source of the run summary."""
    from orchestration.lib.reports import read_reports

    runs, promotion = _from_instance(home)
    state: dict = {"home": str(home.root), "runs": runs, "load": None, "tables": {},
                   "settings": _settings()}
    if home.warehouse.exists():
        from orchestration.lib.warehouse import DuckDBWarehouse

        warehouse = DuckDBWarehouse(path=str(home.warehouse))
        state["tables"] = warehouse.row_counts()
        if "raw.load_info" in state["tables"]:
            state["load"] = _load(warehouse.load_info(), warehouse.quarantine_counts())
    state["data_quality"] = read_reports(home.reports, "data_quality")
    state["data_docs"] = str(home.data_docs / "index.html")
    state["drift"] = read_reports(home.reports, "drift")
    state["governance"] = str(home.reports / "index.html")
    models = read_reports(home.reports, "models")  # the report assets' outputs
    state["models"] = {
        "champion": model_store(home).champion(),
        "evaluation": models.get("model_evaluation"),
        "promotion": promotion,
        "tuning": models.get("model_tuning"),
    }
    state["stream"] = stream_status(home)
    state["experiments"] = {  # the latest report of each (experiment_report)
        name: {"status": r["status"], "as_of": r["as_of"], "visitors": r["visitors"],
               "srm_mismatch": bool(r["srm"] and r["srm"]["mismatch"]),
               "verdicts": {arm: v["decision"] for arm, v in r["verdicts"].items()}}
        for name, r in read_reports(home.reports, "experiments").items()}
    return state


def stream_status(home: TailorHome) -> dict:
    """The event stream (length, dead letters, per consumer group pending, undelivered and lag)
    and its durability setting; read only, and it starts no Redis: one that is not running is
    reported so."""
    import redis

    from serving.settings import environment
    from serving.stream.local_redis import local_url
    from serving.stream.redis_stream import RedisEventStream, connect

    shops = environment().redis_url
    url = shops or local_url(home.root)
    where = "TAILOR_REDIS_URL" if shops else "this home's local Redis"
    try:
        stream = RedisEventStream(connect(url))
        return {"running": True, "where": where, **stream.stats().to_dict(),
                "durability": stream.durability()}
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError) as error:
        return {"running": False, "where": where, "error": type(error).__name__}
    except redis.ResponseError as error:  # e.g. an ACL without XINFO: say so, do not crash
        return {"running": True, "where": where, "error": str(error)[:200]}


def _from_instance(home: TailorHome, limit: int = 5) -> tuple[list[dict], dict | None]:
    """The home's recent runs, and the promotion gate's newest decision (promoted or not)."""
    if not _has_runs(home):
        return [], None
    import dagster as dg

    from orchestration.lib.promotions import latest_decision

    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        runs = [
            {
                "run_id": record.dagster_run.run_id,
                "job": record.dagster_run.job_name,
                "status": record.dagster_run.status.value,
                "started_at": record.start_time,
                "ended_at": record.end_time,
            }
            for record in instance.get_run_records(limit=limit)
        ]
        return runs, latest_decision(instance)


def _has_runs(home: TailorHome) -> bool:
    return (home.dagster / "storage").exists() or (home.dagster / "history").exists()


def _load(info: dict, by_reason: dict[str, dict[str, int]]) -> dict:
    """The current load: its source and as_of, per raw table rows read, loaded and quarantined."""
    return {
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


def model_store(home: TailorHome):
    """This home's Bento model store: the champion, the versions, their artifacts."""
    from orchestration.lib.model_store import ModelStore

    return ModelStore(bentoml_home=str(home.bentoml))


def _settings() -> dict:
    """The settings file in effect and what it changes from the defaults (or its error)."""
    from orchestration.lib.shop_settings import read_shop_settings
    from serving.settings import environment

    path = environment().settings_file
    try:
        return {"file": str(path) if path else None, "changed": read_shop_settings(path).changed()}
    except ValueError as error:
        return {"file": str(path), "error": str(error)}


def format_summary(state: dict, outcome: str, elapsed: float) -> str:
    headline = {
        "succeeded": "Pipeline succeeded",
        "not promoted": "Pipeline finished; the new model was NOT promoted (the champion "
        "keeps serving)",
        "failed": "Pipeline FAILED",
    }[outcome]
    return f"\n{headline} in {elapsed:.0f} s\n" + format_state(state)


def format_settings(settings: dict) -> str:
    """The settings file in effect and what it changes, on one line."""
    if settings.get("error"):
        return f"Settings: INVALID: {settings['error']}"
    if not settings.get("file"):
        return "Settings: defaults (no settings file; docs/settings.md)"
    changed = "; ".join(f"[{table}] " + ", ".join(f"{k} = {v}" for k, v in values.items())
                        for table, values in settings["changed"].items())
    return f"Settings: {settings['file']} ({changed or 'all defaults'})"


def format_state(state: dict) -> str:
    lines = [format_settings(state.get("settings") or {})]
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
    stream = state.get("stream") or {}
    if stream.get("running") and "error" in stream:
        lines.append(f"Event stream ({stream['where']}): {stream['error']}")
    elif stream.get("running"):
        groups = "; ".join(f"{name}: {g['pending']} pending, {g['lag']} undelivered, lag "
                           f"{g['lag_seconds']:.1f} s" for name, g in stream["groups"].items())
        lines.append(f"Event stream ({stream['where']}): {stream['length']:,} entries, "
                     f"{stream['dead_letters']} dead letters; {groups}")
    elif stream:
        lines.append(f"Event stream ({stream['where']}): not running")
    for name, e in (state.get("experiments") or {}).items():
        seen = ", ".join(f"{arm} {n:,}" for arm, n in e["visitors"].items())
        verdicts = ", ".join(f"{arm}: {d}" for arm, d in e["verdicts"].items())
        lines.append(f"Experiment {name} ({e['status']}, report {e['as_of'][:16]}): {seen}"
                     + ("; SAMPLE RATIO MISMATCH" if e["srm_mismatch"] else "")
                     + f"; {verdicts}")
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
    from ml.evaluation.reports import headline
    from orchestration.lib.tables import metric_table

    windows, protocol = evaluation["windows"], evaluation["protocol"]
    test = headline(evaluation, "test")
    judged = test["all"]["users"]
    if protocol == "calendar":
        split = (f"test window {windows['test_start']} .. {windows['as_of']}, model fit "
                 f"before {windows['test_start']}")
    else:
        split = "each customer's last basket held out, model fit on what came before"
    left_out = ", ".join(f"{n:,} {why}" for why, n in judged.items() if why != "judged")
    return (
        f"\nProtocol {protocol} ({evaluation['protocol_reason']}): {split}; full-catalog "
        f"ranking; {judged['judged']:,} customers judged ({left_out} left out)\n"
        + metric_table(test)
        + f"\n\nWinning contender: {evaluation['contender']} "
        f"({evaluation['selection']['reason']})"
    )
