"""Model quality on real and synthetic data, against what a shop would build instead from plain
library calls; writes docs/benchmarks/quality.md.

For each dataset the whole pipeline runs through Dagster in a fresh temporary home (ingest, dbt,
Great Expectations gates, tuning, evaluation of every contender under both protocols, selection,
promotion), timed. Then, on the same warehouse and the very same splits (`ml.evaluation.protocols`,
the same customers judged, the same truth), the script fits what a shop would pick instead, as
plain library calls on a users x items count matrix of the visible events, each tuned on the
protocol's validation split (NDCG@10, target all) and scored on its test split:

- `implicit` ALS (`AlternatingLeastSquares`, factors x regularization x alpha grid);
- `implicit` item-kNN (`BM25Recommender`, K grid);
- EASE (closed form, numpy, on binary presence; lambda grid);
- popularity (purchase counts).

The served model (the contender model selection chose) must beat the best of them by >= 10%
NDCG@10 on the test split of each protocol.

    .venv/bin/python docs/benchmarks/quality_benchmark.py --online-retail PATH --rees46 PATH
        [--synthetic-size 1m] [--tuning-trials N]

Tuning runs with the product's default budget (what `tailor run` does) unless --tuning-trials
sets the trials per study.
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
from itertools import product
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from orchestration.lib.env import TailorHome, configure_environment  # noqa: E402

OUT = REPO / "docs" / "benchmarks" / "quality.md"
TARGET_GAIN = 0.10  # the served model vs the best plain library model, NDCG@10
ALS_GRID = {"factors": [64, 256], "regularization": [0.01, 0.1], "alpha": [5.0, 40.0]}
KNN_GRID = [50, 200]
EASE_GRID = [50.0, 200.0, 500.0, 2000.0]


def run_case(name: str, config: dict, trials: int | None) -> dict:
    home = configure_environment(TailorHome(Path(tempfile.mkdtemp(prefix="tailor-q-"))))
    from orchestration.cli.pipeline import run_outcome
    from orchestration.lib.promotions import run_decision
    from orchestration.lib.runner import run_pipeline

    started = time.monotonic()
    budget = {} if trials is None else {"source_trials": trials, "ranker_trials": trials}
    result = run_pipeline(home, config, op_config={"model_tuning": budget})
    pipeline_seconds = time.monotonic() - started
    reports = home.reports / "models"
    if not (reports / "model_evaluation.json").exists():  # the run failed before the selection
        return {"name": name, "outcome": run_outcome(result), "failed": True,
                "pipeline_seconds": pipeline_seconds,
                "step_seconds": step_seconds(home, result.run_id)}
    evaluation = json.loads((reports / "model_evaluation.json").read_text())
    case = {
        "name": name, "outcome": run_outcome(result), "pipeline_seconds": pipeline_seconds,
        "step_seconds": step_seconds(home, result.run_id),
        # The report assets' outputs, and the promotion gate's decision (its check metadata).
        "evaluation": evaluation,
        "tuning": json.loads((reports / "model_tuning.json").read_text()),
        "promotion": run_decision(result) or {"reasons": ["the promotion gate did not run"]},
    }
    case.update(plain_library_models(home))
    return case


def plain_library_models(home: TailorHome) -> dict:
    """Per protocol and target, the test metrics of each plain library model tuned on the
    protocol's validation split, with the settings chosen."""
    from ml.evaluation.protocols import PROTOCOLS, protocol_split
    from orchestration.lib.marts import training_data
    from orchestration.lib.warehouse import DuckDBWarehouse

    log, catalog, windows = training_data(DuckDBWarehouse(path=str(home.warehouse)))
    results, chosen, seconds = {}, {}, {}
    for protocol in PROTOCOLS:
        started = time.monotonic()
        validation = protocol_split(log, windows, protocol, "validation")
        test = protocol_split(log, windows, protocol, "test")
        results[protocol], chosen[protocol] = {}, {}
        if min(judged(log, split) for split in (validation, test)) < 20:  # as selection's cells
            continue
        for model, grid in (("implicit ALS", [dict(zip(ALS_GRID, values, strict=True))
                                              for values in product(*ALS_GRID.values())]),
                            ("implicit item-kNN (BM25)", [{"K": k} for k in KNN_GRID]),
                            ("EASE", [{"l2": value} for value in EASE_GRID]),
                            ("popularity", [{}])):
            best = max(grid, key=lambda settings: score(model, settings, log, catalog,
                                                         validation)["all"]["ndcg@10"])
            chosen[protocol][model] = best
            for target, row in score(model, best, log, catalog, test).items():
                results[protocol].setdefault(target, {})[model] = row
        seconds[protocol] = time.monotonic() - started
    return {"plain": results, "plain_settings": chosen, "plain_seconds": seconds,
            "events": len(log), "users": int(log.n_users), "items": int(catalog.size)}


def judged(log, split) -> int:
    """Customers of the split's truth with something visible before it."""
    import numpy as np

    seen = np.zeros(log.n_users, dtype=bool)
    seen[log.user[split.visible & (log.weight > 0)]] = True
    return sum(1 for user in split.truth if seen[user])


def score(model: str, settings: dict, log, catalog, split) -> dict:
    """Fit `model` on the split's visible events, judge it on the split's customers."""
    import numpy as np
    import scipy.sparse as sp

    from ml.evaluation.metrics import ranking_report

    seen = log.where(split.visible)
    positive = seen.weight > 0
    counts = sp.csr_matrix((np.ones(int(positive.sum()), np.float32),
                            (seen.user[positive], seen.item[positive])),
                           shape=(log.n_users, catalog.size))
    bought = sp.csr_matrix((np.ones(int((seen.event == 3).sum()), np.float32),
                            (seen.user[seen.event == 3], seen.item[seen.event == 3])),
                           shape=(log.n_users, catalog.size))
    has_history = np.diff(counts.indptr) > 0
    recommend = fit(model, settings, counts, bought)
    report = {}
    for target in ("all", "new"):
        truth = {u: ({i for i in items if bought[u, i] == 0} if target == "new" else items)
                 for u, items in split.truth.items() if has_history[u]}
        truth = {u: items for u, items in truth.items() if items}
        if not truth:
            continue
        users = np.array(sorted(truth), dtype=np.int64)
        ranked = recommend(users, exclude=bought if target == "new" else None)
        report[target] = ranking_report(truth, dict(zip(users.tolist(), ranked, strict=True)),
                                        catalog.size)
    return report


def fit(model: str, settings: dict, counts, bought):
    """A `recommend(users, exclude) -> [top-20 items per user]` for one plain library model."""
    import implicit.cpu.als
    import implicit.nearest_neighbours
    import numpy as np
    from threadpoolctl import threadpool_limits

    if model == "implicit ALS":
        als = implicit.cpu.als.AlternatingLeastSquares(iterations=15, random_state=7,
                                                       calculate_training_loss=False, **settings)
        with threadpool_limits(1, "blas"):
            als.fit(counts, show_progress=False)
        return _implicit_recommend(als, counts)
    if model == "implicit item-kNN (BM25)":
        knn = implicit.nearest_neighbours.BM25Recommender(K=settings["K"], num_threads=1)
        knn.fit(counts, show_progress=False)
        return _implicit_recommend(knn, counts)
    if model == "EASE":
        presence = (counts > 0).astype(np.float64)
        gram = (presence.T @ presence).toarray()
        gram[np.diag_indices(gram.shape[0])] += settings["l2"]
        with threadpool_limits(2, "blas"):
            inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)[None, :]
        weights[np.diag_indices(gram.shape[0])] = 0.0

        def recommend(users, exclude):
            rows = []
            for start in range(0, len(users), 1024):
                block = users[start:start + 1024]
                scores = presence[block] @ weights
                if exclude is not None:
                    scores[exclude[block].toarray() > 0] = -np.inf
                rows += [np.argsort(-row, kind="stable")[:20].tolist() for row in scores]
            return rows
        return recommend
    if model == "popularity":
        popular = np.asarray(bought.sum(axis=0)).ravel()
        order = np.argsort(-popular, kind="stable")

        def recommend(users, exclude):
            if exclude is None:
                return [order[:20].tolist()] * len(users)
            return [[i for i in order[:20 + exclude[u].nnz] if exclude[u, i] == 0][:20]
                    for u in users.tolist()]
        return recommend
    raise ValueError(model)


def _implicit_recommend(model, counts):
    """`recommend(users, exclude)` of a fitted implicit model: its top 20 per user."""
    def recommend(users, exclude):
        if exclude is None:
            ids, _ = model.recommend(users, counts[users], N=20, filter_already_liked_items=False)
        else:
            ids, _ = _implicit_excluding(model, users, counts, exclude)
        return [row.tolist() for row in ids]
    return recommend


def _implicit_excluding(model, users, counts, exclude):
    """implicit's recommend with the user's purchases filtered out (target new)."""
    import numpy as np

    ids = np.zeros((len(users), 20), dtype=np.int64)
    for n, user in enumerate(users.tolist()):
        banned = exclude[user].indices
        row, _ = model.recommend(user, counts[user], N=20, filter_already_liked_items=False,
                                 filter_items=banned if len(banned) else None)
        row = np.asarray(row)[:20]  # item-kNN may return more than N when filtering
        ids[n, :len(row)] = row
    return ids, None


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


def comparison(case: dict) -> tuple[list[str], list[bool]]:
    """Markdown lines: the served contender vs the best plain library model, per protocol and
    target, on the test split; and whether each protocol's `all` target met TARGET_GAIN."""
    evaluation = case["evaluation"]
    served = evaluation["contender"]
    lines = ["| protocol | target | served model | NDCG@10 | HR@10 | Recall@20 | coverage | "
             "best plain library model | its NDCG@10 | gain |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    met = []
    for protocol, stages in evaluation["protocols"].items():
        for target in ("all", "new"):
            ours = stages["test"][target]["models"].get(served)
            plain = case["plain"][protocol].get(target)
            if ours is None or not plain:  # the protocol judges too few customers here
                continue
            best = max(plain, key=lambda name: plain[name]["ndcg@10"])
            gain = ours["ndcg@10"] / plain[best]["ndcg@10"] - 1 if plain[best]["ndcg@10"] else 0
            if target == "all":
                met.append(gain >= TARGET_GAIN)
            lines.append(f"| {protocol} | {target} | {served} | {ours['ndcg@10']:.4f} | "
                         f"{ours['hit_rate@10']:.4f} | {ours['recall@20']:.4f} | "
                         f"{ours['coverage@10']:.4f} | {best} | {plain[best]['ndcg@10']:.4f} | "
                         f"**{gain:+.1%}** |")
    return lines, met


def verdict(met: list[bool]) -> str:
    if not met:
        return ("not measurable: no protocol judges 20 customers on both validation and test "
                "(nothing to tune the plain models on)")
    return "met" if all(met) else "NOT met"


def markdown(cases: list[dict], command: str) -> str:
    from orchestration.lib.tables import bucket_table, metric_table

    lines = [
        "# Model quality benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{datetime.now():%Y-%m-%d %H:%M}; single run.",
        f"Reproduce: `{command}`",
        "",
        "Protocols (`ml/evaluation/protocols.py`): `calendar` = one cutoff, the test window's "
        "purchases are the truth (window lengths derived from the purchase rhythm, "
        "`int_purchase_rhythm`); `last_basket` = each customer's last basket is the test target, "
        "the one before it validation. Targets: `all` = every purchase counts; `new` = only items "
        "the customer never bought before, already-bought items are not recommended. Every model "
        "ranks the full catalog; metrics in `ml/evaluation/metrics.py`. The plain library models "
        "are fit on the same visible events and judged on the same customers; each is tuned on "
        "the protocol's validation split.",
    ]
    for case in cases:
        if case.get("failed"):
            lines += ["", f"## {case['name']}", "",
                      f"Pipeline outcome: **{case['outcome']}** after "
                      f"{case['pipeline_seconds']:.0f} s; steps (s): {case['step_seconds']}"]
            continue
        evaluation = case["evaluation"]
        headline = evaluation["protocols"][evaluation["protocol"]]
        table, met = comparison(case)
        selection = evaluation["selection"]
        lines += [
            "", f"## {case['name']}", "",
            f"{case['events']:,} events, {case['users']:,} users, {case['items']:,} items; "
            f"pipeline outcome: **{case['outcome']}** in {case['pipeline_seconds']:.0f} s "
            f"(`tailor run`, 2 cores). Headline protocol: `{evaluation['protocol']}` "
            f"({evaluation['protocol_reason']}).", "",
            f"**Winning contender: `{evaluation['contender']}`** ({selection['reason']}; margin "
            f"{(selection.get('margin') or 0):+.1%} over the runner-up).", "",
            "### Served model vs what a shop would build instead (test split)", "", *table, "",
            f"Goal (served model >= +{TARGET_GAIN:.0%} NDCG@10 over the best plain library "
            f"model, target all, each protocol): **{verdict(met)}**.", "",
            "Plain library settings chosen on validation: "
            + "; ".join(f"{p}: " + ", ".join(f"{m} {json.dumps(s)}" for m, s in chosen.items())
                        for p, chosen in case["plain_settings"].items()), "",
        ]
        for protocol, stages in evaluation["protocols"].items():
            test = stages["test"]
            users = test["all"]["users"]
            lines += [f"### Every contender, `{protocol}` test split", "",
                      "Customers judged: " + ", ".join(f"{n:,} {why}" for why, n in users.items())
                      + (f"; skipped: {stages['test']['skipped']}" if stages["test"]["skipped"]
                         else ""), "",
                      metric_table(test), ""]
        lines += ["### NDCG@10 by history length (headline protocol, test, target all)", "",
                  bucket_table(headline["test"]), "",
                  "### Candidate recall (headline protocol, test: share of the truth among the "
                  "hybrid's candidates)", ""]
        recall = headline["test"]["all"].get("candidate_recall", {})
        if recall:
            lines += ["| " + " | ".join(recall) + " |", "|" + "---|" * len(recall),
                      "| " + " | ".join(f"{v:.3f}" for v in recall.values()) + " |", ""]
        lines += [f"Promotion: {'; '.join(case['promotion']['reasons'])}", "",
                  "### Tuning trials (validation NDCG@10)", "", "| stage | NDCG@10 | s | params |",
                  "|---|---|---|---|"]
        for trial in case["tuning"]["trials"]:
            lines.append(f"| {trial['stage']} | {trial['ndcg@10']:.4f} | {trial['seconds']} | "
                         f"`{json.dumps(trial['params'])}` |")
        lines += ["", "### Timings (2 cores)", "",
                  "- pipeline steps (s): " + ", ".join(f"{k} {v}" for k, v in
                                                       case["step_seconds"].items()),
                  "- plain library models, tuning and test per protocol (s): " + ", ".join(
                      f"{p} {s:.0f}" for p, s in case["plain_seconds"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--online-retail", type=Path, required=True,
                        help="the UCI Online Retail file (Parquet, CSV or Excel)")
    parser.add_argument("--rees46", type=Path, help="a REES46 events CSV (e.g. the sample)")
    parser.add_argument("--synthetic-size", default="1m", choices=("small", "1m", "none"))
    parser.add_argument("--tuning-trials", type=int,
                        help="trials per tuning study (default: the product's budget)")
    args = parser.parse_args()
    runs = [("UCI Online Retail (full)",
             {"source": "online-retail", "events_path": str(args.online_retail.resolve())})]
    if args.rees46:
        runs.append(("REES46 sample",
                     {"source": "rees46", "events_path": str(args.rees46.resolve())}))
    if args.synthetic_size != "none":
        runs.append((f"Synthetic store ({args.synthetic_size})",
                     {"source": "synthetic", "synthetic_size": args.synthetic_size}))
    command = (".venv/bin/python docs/benchmarks/quality_benchmark.py --online-retail PATH "
               + ("--rees46 PATH " if args.rees46 else "")
               + f"--synthetic-size {args.synthetic_size}"
               + (f" --tuning-trials {args.tuning_trials}" if args.tuning_trials else ""))
    cases = []
    for name, config in runs:  # the page is rewritten after each case: a late failure loses none
        cases.append(run_case(name, config, args.tuning_trials))
        OUT.write_text(markdown(cases, command))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
