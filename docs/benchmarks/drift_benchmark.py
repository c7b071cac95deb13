"""Benchmark: does the drift check stay quiet on an unchanged shop and fire on a changed one?

One base home runs the whole pipeline on the synthetic store (`tailor demo`, one tuning trial), so
its champion carries a drift reference. Then, for every shift (none, taste, new-category) and seed,
a copy of that home gets `--days` new days from `ml.synthetic.days` (what `tailor simulate-drift`
appends), runs `monitor_tailor_job` through Dagster (transforms, gates, the three Evidently
reports) and evaluates `retrain_on_drift_sensor` on the copy's instance. Recorded per case: the
feature drift share and drifted columns, the prediction and target drift shares, whether the
sensor requested retraining, and the wall time of the monitoring run.

The false-alarm rate is the share of `none` cases in which the sensor fired; the detection rate the
share of shifted cases in which it fired. Finally, unless --no-loop, one copy runs the whole demo
loop (`tailor simulate-drift --shift taste`: new data -> reports -> sensor -> retrain_tailor_job
-> promotion) and its wall time is recorded. Results are printed and written to drift.md beside
this file (and as JSON with --json):

    .venv/bin/python docs/benchmarks/drift_benchmark.py --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

SHIFTS = ("none", "taste", "new-category")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per shift (0..N-1)")
    parser.add_argument("--days", type=int, default=7, help="days appended per case")
    parser.add_argument("--shifts", nargs="+", choices=SHIFTS, default=list(SHIFTS))
    parser.add_argument("--workdir", type=Path, help="keep the homes here (default: a temp dir)")
    parser.add_argument("--no-loop", action="store_true", help="skip the timed demo loop")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--out", type=Path, default=HERE / "drift.md")
    parser.add_argument("--render", type=Path, help="only re-render drift.md from a --json file")
    args = parser.parse_args()
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text())))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tailor-drift-"))
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / "base"
    started = time.monotonic()
    if not (base / "bentoml" / "models" / "tailor").exists():
        print(f"base home {base}: tailor demo --tuning-trials 1", file=sys.stderr)
        _tailor(base, "demo", "--tuning-trials", "1")
    base_seconds = time.monotonic() - started

    cases = []
    for shift in args.shifts:
        for seed in range(args.seeds):
            home = workdir / f"{shift}-{seed}"
            cases.append(_case(base, home, shift, seed, args.days))
            c = cases[-1]
            print(
                f"{shift:>12} seed {seed}: feature share {c['feature_share']:.2f} "
                f"fired={c['fired']} ({c['seconds']:.0f} s) {', '.join(c['drifted'])}",
                file=sys.stderr,
            )
            if args.workdir is None:
                shutil.rmtree(home)

    loop = None
    if not args.no_loop:
        home = workdir / "loop"
        _copy_home(base, home)
        loop_started = time.monotonic()
        output = _tailor(home, "simulate-drift", "--shift", "taste", "--seed", "0")
        loop = {
            "seconds": time.monotonic() - loop_started,
            "stages": [line for line in output.splitlines() if line.startswith(("[", "Done"))],
        }
        print(f"demo loop: {loop['seconds']:.0f} s", file=sys.stderr)

    results = {
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_seconds": time.monotonic() - started,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "days": args.days,
        "seeds": args.seeds,
        "base_seconds": base_seconds,
        "cases": cases,
        "loop": loop,
    }
    markdown = render(results)
    print(markdown)
    args.out.write_text(markdown)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _tailor(home: Path, *argv: str) -> str:
    """`tailor <argv>` on `home` in a fresh process (as a user runs it); its stdout."""
    env = {**os.environ, "TAILOR_HOME": str(home)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tailor"), *argv],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tailor {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _copy_home(base: Path, home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(base, home, ignore=shutil.ignore_patterns("drift"))


CASE = """
import json, sys, time
from pathlib import Path
from orchestration.lib.env import TailorHome, configure_environment
home = configure_environment(TailorHome(Path(sys.argv[1])))
import dagster as dg
from orchestration.cli.drift import batch_note, evaluate_retrain_sensor
from orchestration.lib.runner import materialization, run_pipeline
batch = {"source": "simulated-days", "arrival": "append", "simulated_days": int(sys.argv[4]),
         "simulated_shift": sys.argv[2], "simulated_seed": int(sys.argv[3])}
arrival = run_pipeline(home, batch, job_name="ingest_tailor_job")
assert arrival.success, "the simulated days did not pass the raw gates"
events = materialization(arrival, "raw_events")["loaded_rows"]
started = time.monotonic()
result = run_pipeline(home, job_name="monitor_tailor_job")
seconds = time.monotonic() - started
decision = evaluate_retrain_sensor(home)
reports = {p.stem: json.loads(p.read_text()) for p in (home.reports / "drift").glob("*.json")}
print(json.dumps({"success": result.success, "seconds": seconds,
                  "shifted": batch_note(arrival).rsplit(": ", 1)[-1],
                  "events": events, "fired": isinstance(decision, dg.RunRequest),
                  "reports": reports}))
"""


def _case(base: Path, home: Path, shift: str, seed: int, days: int) -> dict:
    _copy_home(base, home)
    env = {**os.environ, "TAILOR_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", CASE, str(home), shift, str(seed), str(days)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {shift}/{seed} failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    reports = out["reports"]
    feature = reports["feature_drift"]
    return {
        "shift": shift,
        "seed": seed,
        "events": out["events"],
        "shifted": out["shifted"],
        "seconds": out["seconds"],
        "fired": out["fired"],
        "feature_share": feature["drift_share"],
        "threshold": feature["retrain_threshold"],
        "n_columns": feature["n_columns"],
        "drifted": feature["drifted_columns"],
        "prediction_share": reports["prediction_drift"]["drift_share"],
        "prediction_drifted": reports["prediction_drift"]["drifted_columns"],
        "target_share": reports["target_drift"]["drift_share"],
        "target_stats": reports["target_drift"]["stats"],
        "scores": {c["column"]: c["score"] for c in feature["columns"]},
    }


def render(results: dict) -> str:
    cases = results["cases"]
    lines = [
        "# Drift benchmark: false alarms and detection",
        "",
        f"Written {results['written_at']} by `docs/benchmarks/drift_benchmark.py` on "
        f"{results['machine']}. Reproduce (it took {results['total_seconds'] / 60:.0f} minutes):",
        "",
        "```bash",
        f".venv/bin/python docs/benchmarks/drift_benchmark.py --seeds {results['seeds']} "
        f"--days {results['days']}",
        "```",
        "",
        "Each case appends the days to a copy of one base home (the synthetic store after "
        "`tailor demo --tuning-trials 1`), runs `monitor_tailor_job` and evaluates "
        "`retrain_on_drift_sensor` on the copy's Dagster instance. `none` resamples the shop's "
        "last 28 days forward (same process, new customers at the same rate); `taste` moves 60% "
        "of the window's users to the least popular top category; `new-category` adds 10% new "
        "`garden` products that 40% of the sessions go to (`ml/synthetic/days.py`).",
        "",
        "The feature drift report compares 17 columns of the feature marts "
        "(`ml.monitoring.FEATURE_TABLES`: rates, shares, averages and decayed scores of the "
        "users active in the last 7 days, and the catalog's item features) with the champion's "
        "reference, Wasserstein distance (normed) for numeric and Jensen-Shannon distance for "
        "categorical columns, a column drifting at distance >= 0.1; the sensor requests "
        "retraining when the share of drifted columns reaches 0.1 (two of 17 columns). "
        "Lifetime totals (`frequency`, `monetary`, `count_*`) and ages (`days_since_*`) are not "
        "compared: on an earlier run of this benchmark, which compared them, every `none` case "
        "alarmed (distances 0.10-0.17 from tenure growth alone).",
        "",
        "| shift | cases | sensor fired | feature drift share (min / mean / max) | "
        "prediction drift share (mean) | target drift share (mean) | columns drifting most often |",
        "|---|---|---|---|---|---|---|",
    ]
    for shift in SHIFTS:
        mine = [c for c in cases if c["shift"] == shift]
        if not mine:
            continue
        shares = [c["feature_share"] for c in mine]
        fired = sum(c["fired"] for c in mine)
        common = Counter(col for c in mine for col in c["drifted"]).most_common(4)
        lines.append(
            f"| {shift} | {len(mine)} | {fired}/{len(mine)} | {min(shares):.2f} / "
            f"{sum(shares) / len(shares):.2f} / {max(shares):.2f} | "
            f"{sum(c['prediction_share'] for c in mine) / len(mine):.2f} | "
            f"{sum(c['target_share'] for c in mine) / len(mine):.2f} | "
            + (", ".join(f"{col} ({n})" for col, n in common) or "none")
            + " |"
        )
    none = [c for c in cases if c["shift"] == "none"]
    shifted = [c for c in cases if c["shift"] != "none"]
    if none:
        lines.append("")
        lines.append(
            f"False-alarm rate (shift none): **{sum(c['fired'] for c in none)}/{len(none)}**."
        )
    if shifted:
        lines.append(
            f"Detection rate (taste, new-category): **{sum(c['fired'] for c in shifted)}/"
            f"{len(shifted)}**."
        )
    if none and shifted:
        alarmed_once = sum(bool(c["drifted"]) for c in none)
        closest = max(
            (v, k)
            for c in none
            for k, v in c["scores"].items()
            if v is not None and k not in c["drifted"]
        )
        fewest = min(len(c["drifted"]) for c in shifted)
        lines += [
            "",
            f"Margins: on `none`, {alarmed_once}/{len(none)} cases had a drifted column and "
            f"the largest distance among the quiet ones was {closest[0]:.3f} "
            f"(`{closest[1]}`, threshold 0.1); every shifted case had at least {fewest} drifted "
            "columns. So the decision rests on asking for two drifting columns: a threshold of "
            f"one column would have alarmed on {alarmed_once}/{len(none)} unchanged cases. "
            "Distances on `none` are not zero partly because resampling copies sessions: a "
            "user's new week repeats their own recent visits, which concentrates their category "
            "shares a little more than fresh visits would. Prediction drift (the champion's "
            "recommended categories) and target drift (session add-to-cart and conversion "
            "rates) are reported beside it but do not trigger retraining.",
        ]
    lines += [
        "",
        "Per case (in brackets: the largest distance among the columns that did not drift):",
        "",
        "| shift | seed | events | what changed | share | fired | monitoring run (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(
            f"| {c['shift']} | {c['seed']} | {c['events']:,} | {c['shifted']} | "
            f"{c['feature_share']:.2f} ({_closest(c)}) | {'yes' if c['fired'] else 'no'} | "
            f"{c['seconds']:.0f} |"
        )
    if results["loop"]:
        loop = results["loop"]
        lines += [
            "",
            f"Whole demo loop (`tailor simulate-drift --shift taste --seed 0`, new data -> reports "
            f"-> sensor -> retrain_tailor_job with 4 tuning trials -> promotion): "
            f"**{loop['seconds']:.0f} s** wall.",
            "",
            "```",
            *loop["stages"],
            "```",
        ]
    return "\n".join(lines) + "\n"


def _closest(case: dict) -> str:
    quiet = {k: v for k, v in case["scores"].items() if v is not None and k not in case["drifted"]}
    if not quiet:
        return "-"
    column = max(quiet, key=quiet.get)
    return f"{column.split('.')[-1]} {quiet[column]:.3f}"


if __name__ == "__main__":
    sys.exit(main())
