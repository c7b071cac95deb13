"""Experiments benchmark: the statistics checked against the simulator's known truth, the cost of
assignment, and one experiment end to end over HTTP. Writes docs/benchmarks/experiments.md.

    .venv/bin/python docs/benchmarks/experiments_benchmark.py --home H   # H: after `tailor demo`

1. Truth. Every customer of the store (the synthetic truth) gets the promoted model's homepage
   (treatment) and the control's (the answer of an unknown visitor: the control arm's code path,
   tests/serving/test_experiments.py); ml/synthetic/responses.py gives each the exact
   probability of buying and the expected revenue under each. The true lift is their mean
   difference over the customers.
2. In process, many experiments: visitors drawn at random from the customers, split by the real
   assignment (ml.experiments.assignment.Assigner, a new salt per experiment), outcomes drawn from
   those probabilities; the real tests (ml.experiments.statistics) then judge them:
   - A/A (both arms control): share of significant results at 95%; SRM alarms on the fair split;
   - A/B: share of 95% intervals covering the true lift (conversion and revenue per visitor);
     observed power against statsmodels' prediction for the planned sample;
   - SRM: a 51/49 split where 50/50 was planned, at 100,000 visitors.
3. Assignment cost: `PublishedExperiments.assignment` per call, and homepage answers with and without an
   experiment in the same run.
4. End to end: a new homepage experiment (`tailor experiment create`, planned by the power
   calculation), `tailor simulate-traffic` with --visitors through the real service (2 workers),
   its Redis stream and the warehouse drain, then the experiment's report.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ml.experiments.assignment import Assigner  # noqa: E402
from ml.experiments.design import Experiment  # noqa: E402
from ml.experiments.statistics import (  # noqa: E402
    Mean,
    Proportion,
    power_rate,
    sample_ratio,
    sample_size_rate,
    two_proportions,
    welch,
)
from ml.synthetic import behaviour  # noqa: E402

OUT = ROOT / "docs" / "benchmarks" / "experiments.md"


def truth(home: Path):
    """Per customer: buy probability and price of each shown position, under each arm."""
    from orchestration.cli.experiments import shoppers_of
    from orchestration.lib.env import TailorHome
    from serving import promoted_bundle
    from serving.engine import Engine
    from serving.schemas import HomepageRequest
    from serving.settings import ServingSettings

    shoppers = shoppers_of(TailorHome(home))
    engine = Engine(ServingSettings(cache_size=0, request_logs=False))
    engine.load(promoted_bundle(home), "tailor:benchmark")
    state = engine.state
    customers = [i for i, u in enumerate(shoppers.user_ids.tolist())
                 if state.user(u) is not None and state.consent.allows(u)]

    def shown(user_id: str) -> np.ndarray:
        page = engine.homepage(HomepageRequest(user_id=user_id), "b")
        return shoppers.items_of([i.item_id for c in page.carousels for i in c.items])

    control_items = shown("visitor-nobody-knows")
    arms = {"control": [], "treatment": []}
    for user in customers:
        for arm, items in (("control", control_items),
                           ("treatment", shown(str(shoppers.user_ids[user])))):
            buy = shoppers.click_probabilities(user, items) * behaviour.CART * behaviour.BUY
            price = shoppers.price[np.where(items >= 0, items, 0)]
            arms[arm].append((buy, price, shoppers.organic_value(user)))
    width = max(len(b) for rows in arms.values() for b, _, _ in rows)

    def stack(rows):
        buy = np.zeros((len(rows), width))
        price = np.zeros((len(rows), width))
        for n, (b, p, _) in enumerate(rows):
            buy[n, :len(b)], price[n, :len(p)] = b, p
        organic = np.array([o for _, _, o in rows])
        conversion = 1 - (1 - behaviour.ORGANIC) * np.prod(1 - buy, axis=1)
        revenue = (buy * price).sum(axis=1) + behaviour.ORGANIC * organic
        return {"buy": buy, "price": price, "organic": organic, "conversion": conversion,
                "revenue": revenue}

    return {arm: stack(rows) for arm, rows in arms.items()}, len(customers), engine, shoppers


def draw(arm: dict, users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each visitor's purchase (0/1) and revenue under `arm`."""
    bought = rng.random((len(users), arm["buy"].shape[1])) < arm["buy"][users]
    organic = rng.random(len(users)) < behaviour.ORGANIC
    revenue = (bought * arm["price"][users]).sum(axis=1) + organic * arm["organic"][users]
    return (bought.any(axis=1) | organic).astype(np.int64), revenue


def experiment(salt: str, weights=(50, 50)) -> Experiment:
    return Experiment.model_validate({
        "name": "bench", "placement": "homepage", "salt": salt, "planned_visitors": 1,
        "variants": [{"name": "control", "weight": weights[0], "serves": "trending"},
                     {"name": "treatment", "weight": weights[1], "serves": "personalized"}],
        "start_at": datetime(2026, 12, 1)})


def split(assigner: Assigner, run: int, n: int) -> np.ndarray:
    """True where the visitor is in treatment: the real hash of each visitor's unit."""
    return np.fromiter((assigner.arm(f"anon:b{run}-{i}") == "treatment" for i in range(n)),
                       dtype=bool, count=n)


def many(arms: dict, customers: int, runs: int, n: int, aa: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    true_conversion = arms["treatment"]["conversion"].mean() - arms["control"]["conversion"].mean()
    true_revenue = arms["treatment"]["revenue"].mean() - arms["control"]["revenue"].mean()
    if aa:
        true_conversion = true_revenue = 0.0
    significant = covered = covered_revenue = srm_alarms = 0
    for run in range(runs):
        in_treatment = split(Assigner(experiment(f"bench-{'aa' if aa else 'ab'}-{seed}-{run}")), run, n)
        users = rng.integers(customers, size=n)
        outcome = {}
        for name, mask in (("control", ~in_treatment), ("treatment", in_treatment)):
            served = arms["control"] if aa or name == "control" else arms["treatment"]
            outcome[name] = draw(served, users[mask], rng)
        conversion = two_proportions(*(Proportion(len(o[0]), int(o[0].sum()))
                                       for o in (outcome["control"], outcome["treatment"])))
        revenue = welch(*(Mean.of(o[1]) for o in (outcome["control"], outcome["treatment"])))
        significant += conversion.significant
        covered += conversion.lift_low <= true_conversion <= conversion.lift_high
        covered_revenue += revenue.lift_low <= true_revenue <= revenue.lift_high
        srm_alarms += sample_ratio([int((~in_treatment).sum()), int(in_treatment.sum())],
                                   [0.5, 0.5]).mismatch
    return {"runs": runs, "visitors": n, "significant": significant / runs,
            "covered": covered / runs, "covered_revenue": covered_revenue / runs,
            "srm_alarms": srm_alarms / runs, "true_conversion_lift": true_conversion,
            "true_revenue_lift": true_revenue}


def srm_runs(runs: int, n: int) -> dict:
    flagged = 0
    for run in range(runs):
        in_treatment = split(Assigner(experiment(f"bench-srm-{run}", weights=(51, 49))), run, n)
        flagged += sample_ratio([int((~in_treatment).sum()), int(in_treatment.sum())],
                                [0.5, 0.5]).mismatch
    return {"runs": runs, "visitors": n, "flagged": flagged / runs}


def assignment_cost(engine, shoppers, home: Path) -> dict:
    from ml.experiments.design import Definitions, write_published
    from serving.schemas import HomepageRequest

    path = home / "benchmark_experiments.json"
    write_published(path, Definitions(experiments=[experiment("cost-salt")]))
    users = [str(u) for u in shoppers.user_ids[:500]]
    state = engine.state
    calls = 100_000
    started = time.perf_counter()
    for n in range(calls):
        engine.published.assignment(state, "homepage", users[n % len(users)], None, None)
    without = time.perf_counter() - started  # no experiment loaded: the early return
    from ml.experiments.assignment import read_published

    engine.published.running = read_published(path)
    started = time.perf_counter()
    for n in range(calls):
        engine.published.assignment(state, "homepage", users[n % len(users)], f"d{n}", None)
    with_experiment = time.perf_counter() - started
    # the same answers with and without the experiment: visitors it puts in treatment (control's
    # trending answers are cheaper, and would hide the assignment's cost)
    treated = Assigner(experiment("cost-salt"))
    users = [u for u in users if treated.arm(f"user:{u}") == "treatment"]
    for user in users:  # warm: the first answers pay for caches of the model's arrays
        engine.homepage(HomepageRequest(user_id=user), "w")
    timings = {"without": [], "with": []}
    for label in ("without", "with") * 3:  # interleaved rounds: a noisy machine
        engine.published.running = read_published(path) if label == "with" else type(
            engine.published.running)()
        started = time.perf_counter()
        for user in users * 2:
            engine.homepage(HomepageRequest(user_id=user), "c")
        timings[label].append((time.perf_counter() - started) * 1000 / (2 * len(users)))
    path.unlink()
    return {"assign_ms": with_experiment * 1000 / calls, "no_experiment_ms": without * 1000 / calls,
            "homepage_without_ms": min(timings["without"]),
            "homepage_with_ms": min(timings["with"])}


def end_to_end(home: Path, visitors: int, baseline: float, seed: int) -> dict:
    """A new homepage experiment planned for about half the visitors per arm, the simulated
    traffic through the real service, the drain and the report (the CLI's own commands)."""
    from ml.experiments.design import read_definitions
    from ml.experiments.statistics import mde_rate

    tailor = [sys.executable, "-m", "orchestration.cli"]
    env = {"TAILOR_HOME": str(home), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    for e in read_definitions(home / "experiments.yaml").experiments:
        if e.placement == "homepage" and e.running(datetime.utcnow()):
            subprocess.run([*tailor, "experiment", "stop", e.name], env=env, check=True,
                           capture_output=True, cwd=ROOT)
    per_arm = int(visitors * 0.45)
    mde = math.ceil(mde_rate(baseline, per_arm) * 100) / 100
    name = f"bench-homepage-{int(time.time())}"
    subprocess.run([*tailor, "experiment", "create", name, "--baseline-rate", f"{baseline:.4f}",
                    "--mde", str(mde)], env=env, check=True, capture_output=True, cwd=ROOT)
    time.sleep(1)
    started = time.perf_counter()
    run = subprocess.run([*tailor, "simulate-traffic", "--visitors", str(visitors), "--seed",
                          str(seed), "--json"], env=env, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"simulate-traffic failed:\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
    out = json.loads(run.stdout)
    out["elapsed_s"] = time.perf_counter() - started
    out["name"], out["mde"], out["seed"] = name, mde, seed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--aa-runs", type=int, default=1000)
    parser.add_argument("--ab-runs", type=int, default=400)
    parser.add_argument("--srm-runs", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=20_000, help="end to end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--e2e-seeds", default="0,1", help="one experiment over HTTP per seed")
    args = parser.parse_args()
    home = args.home.resolve()

    started = time.perf_counter()
    arms, customers, engine, shoppers = truth(home)
    base = float(arms["control"]["conversion"].mean())
    treated = float(arms["treatment"]["conversion"].mean())
    relative = treated / base - 1
    # the A/B sample: planned for 70% power at the true effect (a power worth checking)
    per_arm = sample_size_rate(base, relative, power=0.7)
    predicted = power_rate(base, relative, per_arm)
    print(f"truth: {customers} customers, conversion control {base:.4f} treatment {treated:.4f} "
          f"({relative:+.1%}); A/B sample {per_arm} per arm, predicted power {predicted:.3f}",
          flush=True)
    aa = many(arms, customers, args.aa_runs, 2 * per_arm, aa=True, seed=args.seed)
    print(f"A/A: {aa}", flush=True)
    ab = many(arms, customers, args.ab_runs, 2 * per_arm, aa=False, seed=args.seed + 1)
    print(f"A/B: {ab}", flush=True)
    srm = srm_runs(args.srm_runs, 100_000)
    print(f"SRM 51/49: {srm}", flush=True)
    cost = assignment_cost(engine, shoppers, home)
    print(f"assignment: {cost}", flush=True)
    offline_s = time.perf_counter() - started
    e2e = []
    for seed in ([] if args.no_http else [int(x) for x in args.e2e_seeds.split(",")]):
        e2e.append(end_to_end(home, args.visitors, base, seed))
        print(json.dumps(e2e[-1]["traffic"], indent=1), flush=True)
    write(aa, ab, srm, cost, e2e, base, treated, per_arm, predicted, customers, offline_s)


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def write(aa, ab, srm, cost, e2e, base, treated, per_arm, predicted, customers, offline_s):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    ok = {True: "met", False: "NOT met"}
    lines = [
        "# Experiments: statistics against the simulator's truth, assignment cost, end to end",
        "",
        f"`docs/benchmarks/experiments_benchmark.py` on commit {commit}, "
        f"{datetime.utcnow():%Y-%m-%d}, 2 cores. Truth: {customers:,} customers of the synthetic "
        f"store (`tailor demo`), each with the exact purchase probability of the promoted "
        f"model's homepage (treatment) and of control's (ml/synthetic/responses.py): conversion "
        f"{base:.4f} vs {treated:.4f}, true lift {treated - base:+.4f} ({treated / base - 1:+.1%}).",
        "In-process experiments draw visitors from those customers, split them with the real "
        "assignment (BLAKE2b of a new salt per experiment) and judge them with the real tests "
        f"({offline_s:.0f} s for all of part 1-3).",
        "",
        "| goal | measured | |",
        "|---|---|---|",
        f"| A/A: share significant at 95% is 5% +/- 1.5 over >= 1,000 experiments | "
        f"{aa['significant']:.1%} of {aa['runs']:,} ({aa['visitors']:,} visitors each; binomial "
        f"SE {_se(0.05, aa['runs']):.1%}) | {ok[abs(aa['significant'] - 0.05) <= 0.015]} |",
        f"| SRM alarms in <= 0.5% of fair splits | {aa['srm_alarms'] + 0:.1%} of {aa['runs']:,} "
        f"A/A and {ab['srm_alarms']:.1%} of {ab['runs']} A/B splits | "
        f"{ok[max(aa['srm_alarms'], ab['srm_alarms']) <= 0.005]} |",
        f"| A/B: the 95% interval covers the true lift in 93-97% of >= 200 experiments | "
        f"conversion {ab['covered']:.1%}, revenue per visitor {ab['covered_revenue']:.1%} of "
        f"{ab['runs']} ({ab['visitors']:,} visitors each) | "
        f"{ok[0.93 <= ab['covered'] <= 0.97]} |",
        f"| observed power within 5 points of the calculator | {ab['significant']:.1%} observed, "
        f"{predicted:.1%} predicted (statsmodels NormalIndPower, {per_arm:,} per arm) | "
        f"{ok[abs(ab['significant'] - predicted) <= 0.05]} |",
        f"| SRM: 51/49 where 50/50 was planned flagged at 100,000 visitors in >= 99% | "
        f"{srm['flagged']:.1%} of {srm['runs']} | {ok[srm['flagged'] >= 0.99]} |",
        f"| assignment adds <= 0.05 ms per request | `PublishedExperiments.assignment` {cost['assign_ms']:.4f} ms "
        f"per call ({cost['no_experiment_ms']:.4f} ms with no experiment); homepage answers "
        f"{cost['homepage_without_ms']:.3f} ms without, {cost['homepage_with_ms']:.3f} ms with an "
        f"experiment (visitors in treatment, best of 3 interleaved rounds, cache off) | "
        f"{ok[cost['assign_ms'] <= 0.05]} |",
    ]
    for run in e2e:
        t = run["traffic"]
        report = next(iter(run["reports"].values()))
        primary = next(c for c in report["comparisons"] if c["role"] == "primary")
        verdict = report["verdicts"]["treatment"]
        truth = t["true_conversion_lift"]
        # how far the estimate is from the simulator's truth, in the interval's own SE
        z = (primary["lift"] - truth) / ((primary["lift_high"] - primary["lift_low"]) / 3.92)
        answered = sum(a["visitors"] for a in t["arms"].values())  # homepage answers given
        passed = (t["visitors"] >= 20_000 and t["error_count"] == 0
                  and answered == report["exposures_logged"] and verdict["decision"] != "stop")
        lines.append(
            f"| end to end (seed {run['seed']}): >= 20,000 simulated visitors through the service, "
            f"stream and warehouse; the report shows the lift and the verdict | "
            f"{t['visitors']:,} visitors, {t['requests']:,} requests, {t['events']:,} events, "
            f"{t['error_count']} errors in {t['elapsed_s']:.0f} s; "
            f"{report['exposures_logged']:,} exposures in raw.exposures for {answered:,} answers; "
            f"report: visitors {report['visitors']} ({report['left_out']['no_consent']:,} left "
            f"out: no consent); conversion lift {primary['lift']:+.4f} ({primary['lift_low']:+.4f} "
            f".. {primary['lift_high']:+.4f}; the simulator's truth {truth:+.4f}, z = {z:+.1f}), "
            f"verdict **{verdict['decision']}** | {ok[passed]} |")
    for run in e2e[:1]:
        t = run["traffic"]
        report = next(iter(run["reports"].values()))
        verdict = report["verdicts"]["treatment"]
        lines += ["", f"End-to-end experiment `{run['name']}` (seed {run['seed']}; planned by the "
                  f"power calculation: baseline {base:.4f}, MDE {run['mde']:.0%}, "
                  f"{report['planned_visitors']:,} per arm): homepage p50 "
                  f"{t['homepage_p50_ms']:.1f} ms, p99 {t['homepage_p99_ms']:.1f} ms with 8 "
                  "simulated clients on 2 workers (the simulator shares the 2 cores). Verdict: "
                  + verdict["reason"] + ". One experiment's interval misses its truth one time in "
                  "20; the calibration of the intervals is what the 400 in-process experiments "
                  "measure.", "",
                  "| KPI | control | treatment | relative lift | 95% interval | p |",
                  "|---|---|---|---|---|---|"]
        for c in report["comparisons"]:
            lines.append(f"| {c['kpi']} ({c['role']}) | {c['control']:.4g} | {c['treatment']:.4g} "
                         f"| {c['relative_lift']:+.1%} | {c['relative_low']:+.1%} .. "
                         f"{c['relative_high']:+.1%} | {c['p_value']:.2g} |")
    lines += ["", "Reproduce: `TAILOR_HOME=H tailor demo`, then "
              "`.venv/bin/python docs/benchmarks/experiments_benchmark.py --home H`.", ""]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
