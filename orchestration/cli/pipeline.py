"""`tailor demo`, `tailor run`, `tailor evaluate`: the pipeline through Dagster on this home."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from orchestration.cli.options import SOURCES, add_synthetic_options, tuning_config
from orchestration.cli.status import collect_status, format_evaluation, format_summary
from orchestration.lib.env import TailorHome


def add_parsers(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="generate the synthetic store and run the whole pipeline",
        description="Generate the built-in synthetic store and run the whole pipeline through "
        "Dagster, then print a summary.",
    )
    add_synthetic_options(demo)
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
    run.add_argument(
        "--config",
        type=Path,
        help="the shop's settings file (docs/settings.md: column names, gate thresholds, "
        "tuning budget, serving rules): checked, then kept as this home's tailor.toml for "
        "later runs and the service (default: the home's tailor.toml, if any)",
    )
    add_synthetic_options(run)
    run.set_defaults(handler=_run)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate every contender under both protocols and print the table",
        description="Re-run the evaluation (validation and test splits of the calendar and "
        "last_basket protocols, targets all/new, the hybrid and every source alone, popularity, "
        "repeat-purchase and ALS among them) on the current warehouse, print the headline "
        "protocol's table and the selected contender, and write the report as JSON.",
    )
    evaluate.add_argument("--out", type=Path, help="also write the JSON report here")
    evaluate.set_defaults(handler=_evaluate)


def _demo(args: argparse.Namespace, home: TailorHome) -> int:
    code = _run(demo_as_run(args), home)
    if code != 0:
        return code
    from orchestration.cli.live_demo import format_live_demo, run_live_demo

    print(file=sys.stderr)
    print("tailor: events in real time through the service", file=sys.stderr)
    try:
        print(format_live_demo(run_live_demo(home)))
    except Exception as error:  # the pipeline's summary stands; say what failed here
        print(f"Real time: FAILED ({type(error).__name__}: {error}); logs in "
              f"{home.root / 'logs'}", file=sys.stderr)
        return 1
    return 0


def demo_as_run(args: argparse.Namespace) -> argparse.Namespace:
    """`tailor demo` is `tailor run --source synthetic` with the demo's options: parsed by the run
    parser, so every option `run` has gets its default."""
    from orchestration.cli import build_parser  # the package imports this module

    return build_parser().parse_args(["run", "--source", "synthetic", "--size", args.size,
                                      "--seed", str(args.seed),
                                      *(["--tuning-trials", str(args.tuning_trials)]
                                        if args.tuning_trials is not None else []),
                                      *(["--tuning-seconds", str(args.tuning_seconds)]
                                        if args.tuning_seconds is not None else [])])


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
    try:
        settings = _settings(args, home)
    except ValueError as error:
        print(f"error: --config: {error}", file=sys.stderr)
        return 2
    if args.source == "files":
        from ml.sources.files import check_files

        # Headers first: a wrong column costs a second here, not a Dagster start-up.
        problems = check_files(args.events, args.products, args.customers, args.sep,
                               settings.columns.model_dump())
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
        **({"columns": settings.columns.model_dump()} if args.source == "files" else {}),
    }
    from orchestration.lib.runner import run_pipeline

    print(f"tailor: running the pipeline on {args.source} (home {home.root})", file=sys.stderr)
    started = time.monotonic()
    # the gates' thresholds come with every run (run_pipeline); the tuning flags win over the file
    tuning = tuning_config(args, settings.tuning)
    outcome = run_outcome(run_pipeline(home, config, op_config=tuning))
    elapsed = time.monotonic() - started
    print(format_summary(collect_status(home), outcome, elapsed))
    return 1 if outcome == "failed" else 0


def _settings(args: argparse.Namespace, home: TailorHome):
    """The run's settings: --config (checked, then installed as the home's tailor.toml), else
    the file the environment names (TAILOR_CONFIG, else the home's tailor.toml), else defaults."""
    from orchestration.lib.shop_settings import home_settings, install_settings
    from serving.settings import environment

    if args.config is not None:
        if (named := environment().config) is not None:
            raise ValueError(f"TAILOR_CONFIG names {named} already: give the settings file "
                             "one way")
        path = install_settings(args.config, home.root)
        print(f"tailor: settings from {args.config}, kept as {path}", file=sys.stderr)
    return home_settings()


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
