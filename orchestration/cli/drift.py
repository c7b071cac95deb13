"""`tailor simulate-drift`: new days -> drift reports -> retrain_on_drift_sensor -> retraining."""

from __future__ import annotations

import argparse
import sys
import time

from orchestration.cli.options import add_tuning_trials, tuning_config
from orchestration.cli.pipeline import run_outcome
from orchestration.cli.status import collect_status, format_drift, model_store
from orchestration.lib.env import TailorHome


def add_parsers(commands) -> None:
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
    add_tuning_trials(simulate, stage="when retraining")
    simulate.set_defaults(handler=_simulate_drift)


def _simulate_drift(args: argparse.Namespace, home: TailorHome) -> int:
    """New data -> drift reports -> sensor -> retraining -> promotion, one stage a line."""
    if not 1 <= args.days <= 90:
        print(f"error: --days: must be between 1 and 90, got {args.days}", file=sys.stderr)
        return 2
    before = model_store(home).champion()
    if before is None or not home.warehouse.exists():
        print("error: no promoted model in this home; run `tailor demo` first", file=sys.stderr)
        return 1
    import dagster as dg

    from orchestration.lib.runner import run_pipeline
    from orchestration.lib.shop_settings import home_settings

    started = time.monotonic()
    arrival = run_pipeline(home, simulated_batch(args), job_name="ingest_tailor_job")
    if not arrival.success:
        print("[1/4] FAILED: the new days did not pass the raw tables' gates (see above)")
        return 1
    print(f"[1/4] new data: {batch_note(arrival)}", flush=True)

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
    from orchestration.lib.promotions import run_decision

    retrained = run_pipeline(
        home, job_name="retrain_tailor_job", op_config=tuning_config(args, home_settings().tuning),
        tags=request.tags,
    )
    outcome = run_outcome(retrained)
    after = model_store(home).champion()
    promotion = run_decision(retrained) or {"reasons": []}
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


def simulated_batch(args: argparse.Namespace) -> dict:
    """raw_shop_data's config for the new days: appended, like any later batch of a shop."""
    return {"source": "simulated-days", "arrival": "append", "simulated_days": args.days,
            "simulated_shift": args.shift, "simulated_seed": args.seed}


def batch_note(result) -> str:
    """What the ingest run appended (raw_load_info's `batch` metadata)."""
    from orchestration.lib.runner import materialization

    return materialization(result, "raw_load_info")["batch"]


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
