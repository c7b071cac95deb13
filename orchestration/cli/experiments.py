"""`tailor experiment create|stop|status|report` (experiments through the registry and the
reports) and `tailor simulate-traffic` (simulated visitors from the synthetic store's truth
through the real service: ml/synthetic/).

`create` and `stop` edit `<home>/experiments.yaml` and materialize `experiment_registry` (which
refuses a changed salt or weights of a started experiment: the file is then put back); the
service applies the published file within reload_check_interval_s. `report` first drains the
event stream into the warehouse (the exposures and outcomes the service took in), then
materializes `experiment_report` for each experiment (or the one named) and prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import datetime

from orchestration.lib.env import TailorHome

WEIGHTS = "control=50,treatment=50"
GUARDRAILS = "revenue_per_visitor"


def add_parsers(commands) -> None:
    experiment = commands.add_parser(
        "experiment", help="A/B tests of personalization: create, stop, status, report",
        description="Experiments on a placement: control (trending, the answer of an unknown "
        "visitor) against the served model. Definitions live in $TAILOR_HOME/experiments.yaml.")
    actions = experiment.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="define an experiment and start it",
                                description="Define an experiment; its planned sample comes from "
                                "a power calculation (--baseline-rate and --mde) or is given "
                                "(--planned-visitors).")
    create.add_argument("name", help="a slug, e.g. homepage-carousel-2026-12")
    create.add_argument("--placement", default="homepage",
                        choices=("homepage", "product_page", "cart", "email"))
    create.add_argument("--weights", default=WEIGHTS,
                        help=f"arm=weight,... (default {WEIGHTS}); control serves trending, the "
                        "others the served model")
    create.add_argument("--primary-kpi", default="conversion")
    create.add_argument("--guardrails", default=GUARDRAILS,
                        help="comma-separated KPIs that must not fall (default "
                        "revenue_per_visitor)")
    create.add_argument("--baseline-rate", type=float, help="the primary KPI's rate in control")
    create.add_argument("--mde", type=float, help="smallest relative lift to detect (0.1 = 10%%)")
    create.add_argument("--power", type=float, default=0.8)
    create.add_argument("--planned-visitors", type=int, help="per arm, instead of the calculation")
    create.add_argument("--start", help="ISO-8601 UTC (default: now)")
    create.add_argument("--attribution-hours", type=float, default=24.0)
    create.add_argument("--holdback", action="store_true",
                        help="a long-running holdback: KPIs monitored, no verdict")
    create.add_argument("--description", default="")
    create.set_defaults(handler=_create)

    stop = actions.add_parser("stop", help="end an experiment now",
                              description="End an experiment now; with --holdback-share, a "
                              "holdback on the same placement starts at once, so KPIs of "
                              "personalized vs control keep being monitored.")
    stop.add_argument("name")
    stop.add_argument("--holdback-share", type=float,
                      help="percent of visitors kept on control afterwards (e.g. 5)")
    stop.set_defaults(handler=_stop)

    status = actions.add_parser("status", help="every experiment, its state and latest report")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    report = actions.add_parser("report", help="drain the stream, write and print the reports")
    report.add_argument("name", nargs="?", help="one experiment (default: all)")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_report)

    simulate = commands.add_parser(
        "simulate-traffic", help="simulated visitors through the service, from the synthetic "
        "truth", description="Simulated visitors (ml/synthetic/) ask the service for their "
        "homepage and click, cart and buy by their true tastes, posting their events; then the "
        "stream is drained and the experiment's report written (a running homepage experiment "
        "is needed: tailor experiment create).")
    simulate.add_argument("--visitors", type=int, default=20_000)
    simulate.add_argument("--customer-share", type=float, default=0.1,
                          help="share of visitors who are known customers (each at most once)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--concurrency", type=int, default=8)
    simulate.add_argument("--url", help="a running service (default: start this home's, with "
                          "its Redis, for the run)")
    simulate.add_argument("--no-report", action="store_true", help="leave drain and report out")
    simulate.add_argument("--json", action="store_true")
    simulate.set_defaults(handler=_simulate)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def parse_weights(text: str) -> list[dict]:
    variants = []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"--weights: {part!r} is not arm=weight") from None
        variants.append({"name": name.strip(), "weight": value,
                         "serves": "trending" if name.strip() == "control" else "personalized"})
    return variants


def _create(args: argparse.Namespace, home: TailorHome) -> int:
    from ml.experiments.design import (
        DefinitionError,
        Definitions,
        Experiment,
        Planning,
        new_salt,
        planned_sample,
        read_definitions,
    )

    if args.planned_visitors is None and (args.baseline_rate is None or args.mde is None):
        return _fail("--baseline-rate and --mde (for the power calculation), or "
                     "--planned-visitors: the verdict waits for a planned sample")
    try:
        definitions = read_definitions(home.experiments)
        if definitions.named(args.name) is not None:
            return _fail(f"name: experiment {args.name} exists (a new one needs a new name)")
        planning = (Planning(baseline_rate=args.baseline_rate, relative_mde=args.mde,
                             power=args.power) if args.baseline_rate is not None else None)
        experiment = Experiment.model_validate({
            "name": args.name, "description": args.description, "placement": args.placement,
            "salt": new_salt(), "variants": parse_weights(args.weights),
            "primary_kpi": args.primary_kpi,
            "guardrails": _guardrails(args),
            "start_at": args.start or datetime.utcnow(),  # an offset becomes naive UTC
            "planned_visitors": args.planned_visitors or planned_sample(planning),
            "planning": planning, "attribution_hours": args.attribution_hours,
            "holdback": args.holdback})
        updated = Definitions(experiments=[*definitions.experiments, experiment])
    except (DefinitionError, ValueError) as error:
        return _fail(_pydantic_message(error))
    code = _apply(home, definitions, updated)
    if code == 0:
        arms = ", ".join(f"{v.name} {v.weight:g} ({v.serves})" for v in experiment.variants)
        print(f"experiment {experiment.name} on {experiment.placement}: {arms}; planned "
              f"{experiment.planned_visitors:,} visitors per arm; primary KPI "
              f"{experiment.primary_kpi}; the service applies it within its reload check")
    return code


def _guardrails(args: argparse.Namespace) -> list[str]:
    chosen = [g for g in args.guardrails.split(",") if g]
    if args.guardrails == GUARDRAILS:  # the default guards the primary KPI's neighbour instead
        chosen = [g if g != args.primary_kpi else "conversion" for g in chosen]
    return chosen


def _stop(args: argparse.Namespace, home: TailorHome) -> int:
    from ml.experiments.design import (
        DefinitionError,
        Definitions,
        Experiment,
        new_salt,
        read_definitions,
    )

    try:
        definitions = read_definitions(home.experiments)
    except DefinitionError as error:
        return _fail(str(error))
    experiment = definitions.named(args.name)
    if experiment is None:
        return _fail(f"name: no experiment {args.name} in {home.experiments}")
    now = datetime.utcnow()
    if not experiment.running(now):
        return _fail(f"name: {args.name} is not running")
    stopped = experiment.model_copy(update={"end_at": now})
    experiments = [stopped if e.name == args.name else e for e in definitions.experiments]
    holdback = None
    if args.holdback_share is not None:
        if not 0 < args.holdback_share < 50:
            return _fail("--holdback-share: a percent between 0 and 50")
        holdback = Experiment.model_validate({
            "name": f"{args.name}-holdback"[:64], "placement": experiment.placement,
            "description": f"holdback after {args.name}", "salt": new_salt(),
            "variants": [{"name": "control", "weight": args.holdback_share, "serves": "trending"},
                         {"name": "treatment", "weight": 100 - args.holdback_share,
                          "serves": "personalized"}],
            "primary_kpi": experiment.primary_kpi, "guardrails": experiment.guardrails,
            "start_at": now, "planned_visitors": experiment.planned_visitors, "holdback": True})
        experiments.append(holdback)
    code = _apply(home, definitions, Definitions(experiments=experiments))
    if code == 0:
        print(f"experiment {args.name} stopped at {now:%Y-%m-%d %H:%M:%S} UTC"
              + (f"; holdback {holdback.name} started ({args.holdback_share:g}% on control)"
                 if holdback else ""))
    return code


def _apply(home: TailorHome, before, after) -> int:
    """Write the file and materialize the registry; on a refusal, put the file back."""
    from ml.experiments.design import write_definitions
    from orchestration.lib.runner import run_pipeline

    write_definitions(home.experiments, after)
    result = run_pipeline(home, job_name="experiment_registry_job")
    if result.success:
        return 0
    write_definitions(home.experiments, before)
    return _fail("experiment_registry refused the change: " + _failure(result))


def _failure(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            return error.cause.message.strip() if error.cause else error.message.strip()
    return "see the run in the Dagster UI"


def _pydantic_message(error: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error)


def _status(args: argparse.Namespace, home: TailorHome) -> int:
    from ml.experiments.design import read_definitions

    now = datetime.utcnow()
    rows = []
    for e in read_definitions(home.experiments).experiments:
        path = home.reports / "experiments" / f"{e.name}.json"
        report = json.loads(path.read_text()) if path.exists() else None
        rows.append({"name": e.name, "placement": e.placement,
                     "state": "running" if e.running(now) else
                              "ended" if e.started(now) else "not started",
                     "holdback": e.holdback,
                     "arms": {v.name: v.weight for v in e.variants},
                     "planned_visitors": e.planned_visitors,
                     "report_as_of": report["as_of"] if report else None,
                     "visitors": report["visitors"] if report else None,
                     "verdicts": ({a: v["decision"] for a, v in report["verdicts"].items()}
                                  if report else None)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no experiments in {home.experiments} (tailor experiment create NAME ...)")
    for row in rows:
        seen = (", ".join(f"{a} {n:,}" for a, n in row["visitors"].items())
                if row["visitors"] else "no report yet")
        verdicts = ", ".join(f"{a}: {d}" for a, d in (row["verdicts"] or {}).items())
        print(f"{row['name']}  {row['state']}  {row['placement']}  planned "
              f"{row['planned_visitors']:,}/arm  visitors: {seen}"
              + (f"  verdict: {verdicts}" if verdicts else ""))
    return 0


def _report(args: argparse.Namespace, home: TailorHome) -> int:
    from ml.experiments.design import read_definitions

    names = [e.name for e in read_definitions(home.experiments).experiments]
    if args.name:
        if args.name not in names:
            return _fail(f"name: no experiment {args.name} in {home.experiments}")
        names = [args.name]
    if not names:
        return _fail(f"no experiments in {home.experiments}")
    drained = drain_stream(home)
    if drained is not None:
        print(f"tailor: drained the event stream: {drained}", file=sys.stderr)
    reports = {}
    for name in names:
        reports[name] = run_pipeline_report(home, name)
        if reports[name] is None:
            return _fail(f"experiment_report {name} failed (see the run in the Dagster UI)")
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
        return 0
    for name, report in reports.items():
        print(format_report(report, home.reports / "experiments" / f"{name}.html"))
    return 0


def drain_stream(home: TailorHome) -> str | None:
    """The stream's entries not in the warehouse yet, drained (None when there is no stream, or
    nothing waits)."""
    from orchestration.lib.runner import materialization, run_pipeline
    from orchestration.lib.stream import EventStreamResource
    from serving.stream.local_redis import redis_for

    notes = []
    with redis_for(home.root) as url:  # this home's Redis, started for the drain if it is not up
        stream = EventStreamResource(url=url)
        while stream.waiting():  # a run takes up to raw_shop_data's stream_batch entries
            result = run_pipeline(home, {"source": "stream", "arrival": "append"},
                                  job_name="ingest_tailor_job")
            if not result.success:
                raise RuntimeError("draining the event stream failed (see the run in the "
                                   "Dagster UI)")
            notes.append(str(materialization(result, "raw_load_info").get("batch", "")))
    return "; ".join(notes) or None


def format_report(report: dict, html) -> str:
    lines = [f"Experiment {report['experiment']} ({report['status']}, as of "
             f"{report['as_of'][:19]})"]
    visitors = ", ".join(f"{a} {n:,}" for a, n in report["visitors"].items())
    lines.append(f"  visitors: {visitors} (planned {report['planned_visitors']:,} per arm); "
                 f"left out: {report['left_out']['no_consent']:,} without consent, "
                 f"{report['left_out']['in_two_arms']:,} in two arms")
    srm = report["srm"]
    lines.append("  sample ratio: " + ("no visitors" if srm is None else
                                       f"MISMATCH (p = {srm['p_value']:.2g})" if srm["mismatch"]
                                       else f"ok (p = {srm['p_value']:.3g})"))
    lines.append(f"  {'KPI':<22}{'arm':<12}{'control':>10}{'arm':>10}{'rel. lift':>11}"
                 f"{'95% interval':>24}{'p':>11}")
    for c in report["comparisons"]:
        def pct(v):
            return "?" if v is None else f"{100 * v:+.1f}%"
        mark = "*" if c["significant"] else " "
        lines.append(f"  {c['kpi']:<22}{c['arm']:<12}{_num(c['control']):>10}"
                     f"{_num(c['treatment']):>10}{pct(c['relative_lift']):>11}"
                     f"{pct(c['relative_low']) + ' .. ' + pct(c['relative_high']):>24}"
                     f"{_p(c['p_value']):>11}{mark}")
    for arm, v in report["verdicts"].items():
        lines.append(f"  verdict ({arm} vs control): {v['decision']}: {v['reason']}")
    lines.append(f"  report: {html}")
    return "\n".join(lines)


def _p(value) -> str:
    return "?" if value is None else f"{value:.2g}"


def _num(value) -> str:
    return "?" if value is None else f"{value:.4g}"


def shoppers_of(home: TailorHome):
    """The simulator's truth from this home's warehouse (the synthetic store's; None for a real
    shop's data, which has none)."""
    from ml.synthetic.responses import SimulatedShoppers
    from orchestration.lib.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=str(home.warehouse))
    tables = warehouse.row_counts()
    if not tables.get("truth.user_tastes"):
        return None
    return SimulatedShoppers.from_truth(*(warehouse.read_table(f"truth.{t}")
                                 for t in ("user_tastes", "users", "items")),
                               warehouse.read_table("raw.products"))


def _simulate(args: argparse.Namespace, home: TailorHome) -> int:
    from ml.experiments.design import read_definitions
    from ml.synthetic.traffic import simulate_traffic

    now = datetime.utcnow()
    running = [e for e in read_definitions(home.experiments).experiments
               if e.placement == "homepage" and e.running(now)]
    if not running:
        return _fail("no homepage experiment is running (tailor experiment create NAME "
                     "--planned-visitors N)")
    if not home.warehouse.exists() or (shoppers := shoppers_of(home)) is None:
        return _fail(f"{home.warehouse}: no synthetic truth (tailor demo builds the synthetic "
                     "store; a real shop's data has no hidden tastes to simulate)")
    with _service_url(home, args.url) as url:
        print(f"tailor: {args.visitors:,} simulated visitors against {url}", file=sys.stderr)
        result = simulate_traffic(url, shoppers, args.visitors, args.customer_share, args.seed,
                                  args.concurrency)
    summary = result.to_dict()
    reports = {}
    if not args.no_report:
        drained = drain_stream(home)
        print(f"tailor: drained the event stream: {drained}", file=sys.stderr)
        for name in {e.name for e in running}:
            outcome = run_pipeline_report(home, name)
            if outcome is None:
                return _fail(f"experiment_report {name} failed (see the Dagster UI)")
            reports[name] = outcome
    if args.json:
        print(json.dumps({"traffic": summary, "reports": reports}, indent=2, default=str))
        return 0
    print(format_traffic(summary))
    for name, report in reports.items():
        print(format_report(report, home.reports / "experiments" / f"{name}.html"))
    return 1 if summary["error_count"] else 0


def run_pipeline_report(home: TailorHome, name: str) -> dict | None:
    from orchestration.lib.runner import run_pipeline

    if not run_pipeline(home, job_name="experiment_registry_job").success:
        return None
    if not run_pipeline(home, job_name="experiment_reports_job", partition_key=name).success:
        return None
    if not run_pipeline(home, assets=["governance_page"]).success:  # it links the report
        return None
    return json.loads((home.reports / "experiments" / f"{name}.json").read_text())


def format_traffic(summary: dict) -> str:
    lines = [f"Simulated traffic: {summary['visitors']:,} visitors, {summary['requests']:,} "
             f"requests, {summary['events']:,} events accepted, {summary['error_count']} errors "
             f"in {summary['elapsed_s']:.0f} s (homepage p50 {summary['homepage_p50_ms']:.1f} "
             f"ms, p99 {summary['homepage_p99_ms']:.1f} ms)"]
    for arm, t in summary["arms"].items():
        lines.append(f"  {arm:<10} {t['visitors']:>7,} visitors  expected conversion "
                     f"{t['expected_conversion_rate']:.4f}  observed "
                     f"{t['conversions'] / t['visitors']:.4f}  expected revenue/visitor "
                     f"{t['expected_revenue_per_visitor']:.3f}")
    if summary["true_conversion_lift"] is not None:
        lines.append(f"  true lift (the simulator's, from the answers served): conversion "
                     f"{summary['true_conversion_lift']:+.4f}, revenue per visitor "
                     f"{summary['true_revenue_lift']:+.3f}")
    return "\n".join(lines)


@contextlib.contextmanager
def _service_url(home: TailorHome, url: str | None):
    """`url`, else this home's service with its Redis (2 workers) for the block."""
    if url:
        yield url
        return
    from serving import REPO_ROOT, serve_command
    from serving.process import free_port, start_until_ready, stop
    from serving.stream.local_redis import URL_ENV, redis_for

    with redis_for(home.root) as redis_url:
        port = free_port()
        argv, env = serve_command(home.root, "127.0.0.1", port)
        env.update({URL_ENV: redis_url, "TAILOR_SERVING_WORKERS": "2"})
        log = home.root / "logs" / "simulate_serve.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        address = f"http://127.0.0.1:{port}"
        server = start_until_ready(argv, env, REPO_ROOT, address, log)
        try:
            yield address
        finally:
            stop(server)  # a worker publishes its queued exposures as it stops
