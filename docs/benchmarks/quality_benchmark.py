"""Model quality and training cost on real and synthetic data; writes docs/benchmarks/quality.md.

For each dataset the whole pipeline runs through Dagster in a fresh temporary home (ingest, dbt,
Great Expectations gates, tuning, evaluation, promotion); then, on the same warehouse, the script
times the model steps on their own:
- "train + evaluate": candidates + re-ranker training (train_hybrid at test_start) + evaluation of
  the hybrid and the three baselines in both protocols, over the full catalog;
- "ALS step" (decayed weight matrix + `ml.candidates.fit_als`) against a bare `implicit` fit on the
  same matrix with the same parameters.

    .venv/bin/python docs/benchmarks/quality_benchmark.py --online-retail PATH [--synthetic-size 1m]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from orchestration.lib.env import TailorHome, configure_environment  # noqa: E402

OUT = REPO / "docs" / "benchmarks" / "quality.md"


def run_case(name: str, config: dict, trials: int) -> dict:
    home = configure_environment(TailorHome(Path(tempfile.mkdtemp(prefix=f"tailor-q-{name}-"))))
    from orchestration.cli.pipeline import run_outcome
    from orchestration.lib.promotions import run_decision
    from orchestration.lib.runner import run_pipeline

    started = time.monotonic()
    result = run_pipeline(home, config, op_config={
        "model_tuning": {"als_trials": trials, "ranker_trials": trials}})
    pipeline_seconds = time.monotonic() - started
    reports = home.reports / "models"
    case = {
        "name": name, "outcome": run_outcome(result), "pipeline_seconds": pipeline_seconds,
        "step_seconds": step_seconds(home, result.run_id),
        # The report assets' outputs, and the promotion gate's decision (its check metadata).
        "evaluation": json.loads((reports / "model_evaluation.json").read_text()),
        "tuning": json.loads((reports / "model_tuning.json").read_text()),
        "promotion": run_decision(result) or {"reasons": ["the promotion gate did not run"]},
    }
    case.update(time_model_steps(home, case["evaluation"]["params"]))
    return case


def time_model_steps(home: TailorHome, params: dict) -> dict:
    import implicit.cpu.als
    import numpy as np
    from threadpoolctl import threadpool_limits

    from ml.candidates import fit_als
    from ml.data import SECONDS_PER_DAY
    from ml.ranking.training import TrainingParams, evaluate, train_hybrid
    from orchestration.lib.marts import training_data
    from orchestration.lib.warehouse import DuckDBWarehouse

    log, catalog, windows = training_data(DuckDBWarehouse(path=str(home.warehouse)))
    params = TrainingParams.from_dict(params)
    started = time.monotonic()
    model = train_hybrid(log, catalog, windows.test_start, windows.validation_days, params)
    trained = time.monotonic()
    evaluate(model, log, windows.as_of)
    evaluated = time.monotonic()

    als_runs, bare_runs = [], []
    for _ in range(3):
        began = time.monotonic()
        history_log = log.before(windows.as_of + 1)
        age = (windows.as_of + 1 - history_log.time) / SECONDS_PER_DAY
        decay = np.exp(-np.log(2) * age / params.candidates.half_life_days).astype(np.float32)
        matrix = history_log.matrix(history_log.weight * decay, catalog.size)
        matrix.data = np.maximum(matrix.data, 0)
        matrix.eliminate_zeros()
        fit_als(matrix, params.als)
        als_runs.append(time.monotonic() - began)
        bare = implicit.cpu.als.AlternatingLeastSquares(
            factors=params.als.factors, regularization=params.als.regularization,
            alpha=params.als.alpha, iterations=params.als.iterations, random_state=params.als.seed)
        began = time.monotonic()
        with threadpool_limits(1, "blas"):
            bare.fit(matrix, show_progress=False)
        bare_runs.append(time.monotonic() - began)
    return {
        "train_seconds": trained - started, "evaluate_seconds": evaluated - trained,
        "als_step_seconds": min(als_runs), "bare_implicit_seconds": min(bare_runs),
        "events": len(log), "users": int(log.n_users), "items": int(catalog.size),
        "matrix_nonzeros": int(matrix.nnz),
    }


def step_seconds(home: TailorHome, run_id: str) -> dict[str, float]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        starts, seconds = {}, {}
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = record.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                seconds[event.step_key] = round(record.timestamp - starts[event.step_key], 1)
    return seconds


def markdown(cases: list[dict], command: str) -> str:
    from orchestration.defs.assets.ranking import metric_table

    lines = [
        "# Model quality benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{datetime.now():%Y-%m-%d %H:%M}; single run.",
        f"Reproduce: `{command}`",
        "",
        "Protocols: `all` = every purchase in the test window counts; `new` = only items the user "
        "never bought before count, and already-bought items are not recommended. Every model ranks "
        "the full catalog; metrics in `ml/evaluation/metrics.py`. Test window = last 14 days; the model is fit "
        "on everything before it and its ranker labelled on the 14 days before that.",
    ]
    for case in cases:
        test = case["evaluation"]["test"]
        lines += ["", f"## {case['name']}", "",
                  f"{case['events']:,} events, {case['users']:,} users, {case['items']:,} items; "
                  f"pipeline outcome: **{case['outcome']}** in {case['pipeline_seconds']:.0f} s.", "",
                  "### Test window", "", metric_table(test), ""]
        for protocol in ("all", "new"):
            models = test[protocol]["models"]
            best = max(("popularity", "repeat", "als"), key=lambda m: models[m]["ndcg@10"])
            gain = models["hybrid"]["ndcg@10"] / models[best]["ndcg@10"] - 1
            lines.append(f"- `{protocol}`: hybrid NDCG@10 {models['hybrid']['ndcg@10']:.4f} vs best "
                         f"baseline {best} {models[best]['ndcg@10']:.4f}: **{gain:+.1%}**")
        lines += ["", "### Candidate recall (share of test purchases among the candidates)", "",
                  "| protocol | " + " | ".join(test["all"]["candidate_recall"]) + " |",
                  "|---|" + "---|" * len(test["all"]["candidate_recall"])]
        for protocol in ("all", "new"):
            recall = test[protocol]["candidate_recall"]
            lines.append(f"| {protocol} | " + " | ".join(f"{v:.3f}" for v in recall.values()) + " |")
        lines += ["", "### Validation window (used for tuning and promotion)", "",
                  metric_table(case["evaluation"]["validation"]), "",
                  f"Promotion: {'; '.join(case['promotion']['reasons'])}", "",
                  "### Tuning trials (validation NDCG@10)", "", "| stage | NDCG@10 | s | params |",
                  "|---|---|---|---|"]
        for trial in case["tuning"]["trials"]:
            lines.append(f"| {trial['stage']} | {trial['ndcg@10']:.4f} | {trial['seconds']} | "
                         f"`{json.dumps(trial['params'])}` |")
        ratio = case["als_step_seconds"] / case["bare_implicit_seconds"]
        lines += ["", "### Timings (2 cores)", "",
                  f"- candidates + re-ranker training: {case['train_seconds']:.1f} s; evaluation of "
                  f"hybrid and baselines, both protocols: {case['evaluate_seconds']:.1f} s; "
                  f"**total {case['train_seconds'] + case['evaluate_seconds']:.1f} s**",
                  f"- ALS step (weighted, decayed matrix + fit, best of 3): "
                  f"{case['als_step_seconds']:.2f} s vs bare `implicit` fit on the same matrix "
                  f"({case['matrix_nonzeros']:,} nonzeros): {case['bare_implicit_seconds']:.2f} s "
                  f"= **{ratio:.2f}x**",
                  "- pipeline steps (s): " + ", ".join(f"{k} {v}" for k, v in
                                                       case["step_seconds"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--online-retail", type=Path, required=True,
                        help="the UCI Online Retail file (Parquet, CSV or Excel)")
    parser.add_argument("--synthetic-size", default="1m", choices=("small", "1m"))
    parser.add_argument("--tuning-trials", type=int, default=4)
    args = parser.parse_args()
    cases = [
        run_case("UCI Online Retail (full)", {"source": "online-retail",
                                              "events_path": str(args.online_retail.resolve())},
                 args.tuning_trials),
        run_case(f"Synthetic store ({args.synthetic_size})",
                 {"source": "synthetic", "synthetic_size": args.synthetic_size}, args.tuning_trials),
    ]
    command = (f".venv/bin/python docs/benchmarks/quality_benchmark.py --online-retail PATH "
               f"--synthetic-size {args.synthetic_size} --tuning-trials {args.tuning_trials}")
    OUT.write_text(markdown(cases, command))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
