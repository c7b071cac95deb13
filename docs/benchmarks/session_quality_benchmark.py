"""Benchmark: in-session quality of answers that use the online profile, on the synthetic store.

The synthetic store's last --holdout-days are held back: the whole pipeline (`tailor run
--source files`, real dbt, tuning, selection and promotion) trains on the days before, and the
held-back sessions play the live traffic. For every held-back session with at least 4
interactions and a cart or purchase after its 3rd event:

- known customers: the answer after the session's first 3 events (the profile holds every event
  of the customer since the model's cutoff up to there: what the stream would have given it) vs
  the batch-only answer (the model alone, as before real time);
- anonymous visitors: the same sessions without the customer's id, the profile holding only the
  3 events vs trending (what the service answers a visitor it knows nothing about) and vs the 3
  items passed as `context.viewed_item_ids` without a profile (what a storefront can do alone).

Scored by NDCG@10 (binary) against the items the session carts or buys after its 3rd event;
"new items" leaves out targets among the first 3 events' items. Answers come from
`serving.engine.Engine`, the code the HTTP service answers with, its profiles built by
`ml.online.profile.apply_event` as the stream workers build them (the Redis round trip is not
what is measured here; realtime_answers.md is).

    .venv/bin/python docs/benchmarks/session_quality_benchmark.py

Writes session_quality.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from ml.online.profile import Profile  # noqa: E402
from ml.sources.contract import check_live_event, live_time_text  # noqa: E402
from ml.synthetic import SyntheticParams, generate_store  # noqa: E402
from serving import TELEMETRY_OFF  # noqa: E402
from serving.engine import engine_for  # noqa: E402
from serving.schemas import RecommendContext, RecommendRequest  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402

FIRST = 3  # events of a session the answer has seen
TARGETS = ("add_to_cart", "purchase")


def ndcg(items: list[str], targets: set[str], k: int = 10) -> float:
    gains = [1.0 / np.log2(r + 2) for r, item in enumerate(items[:k]) if item in targets]
    ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(targets), k)))
    return sum(gains) / ideal if ideal else 0.0


def live_event(row) -> dict:
    record = {"event_id": row.event_id, "item_id": row.item_id,
              "session_id": None if pd.isna(row.session_id) else row.session_id,
              "event_type": row.event_type,
              "occurred_at": live_time_text(row.occurred_at.to_pydatetime()),
              "quantity": None if pd.isna(row.quantity) else int(row.quantity),
              "price": None if pd.isna(row.price) else float(row.price)}
    record["user_id"] = row.user_id
    event, problem = check_live_event(record, datetime(2100, 1, 1))
    if problem:
        raise ValueError(f"{row.event_id}: {problem}")
    return event


def train(store, cutoff: pd.Timestamp, home: Path, seconds: float | None) -> None:
    data = home / "data"
    data.mkdir(parents=True)
    store.events[store.events["occurred_at"] < cutoff].to_parquet(data / "events.parquet")
    # what the shop knew at the cutoff: later items and customers arrive with the live traffic
    products, customers = store.products, store.customers
    products[products["created_at"] < cutoff].to_parquet(data / "products.parquet")
    customers[customers["first_seen_at"] < cutoff].to_parquet(data / "customers.parquet")
    argv = [sys.executable, "-m", "orchestration.cli", "run", "--source", "files",
            "--events", str(data / "events.parquet"), "--products",
            str(data / "products.parquet"), "--customers", str(data / "customers.parquet")]
    if seconds is not None:
        argv += ["--tuning-seconds", str(seconds)]
    env = {**os.environ, **TELEMETRY_OFF, "TAILOR_HOME": str(home)}
    env.pop("TAILOR_REDIS_URL", None)
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tailor run failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")


def promoted(home: Path) -> tuple[str, Path]:
    from orchestration.cli.status import model_store
    from orchestration.lib.env import TailorHome

    champion = model_store(TailorHome(home)).champion()
    if champion is None:
        raise SystemExit("the pipeline promoted no model")
    return champion["tag"], Path(champion["path"])


def sessions(after: pd.DataFrame) -> list[tuple]:
    """(user_id, session_id, its first FIRST events, targets, new targets) per judged session."""
    judged = []
    for (user, session), rows in after.sort_values(["occurred_at", "event_id"]).groupby(
            ["user_id", "session_id"], sort=False):
        if len(rows) <= FIRST:
            continue
        seen, later = rows.iloc[:FIRST], rows.iloc[FIRST:]
        targets = set(later.loc[later["event_type"].isin(TARGETS), "item_id"].tolist())
        if targets:
            judged.append((user, session, seen, targets, targets - set(seen["item_id"])))
    return judged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="small", choices=("small", "1m"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout-days", type=int, default=14)
    parser.add_argument("--tuning-seconds", type=float, default=None)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the trained home here, and reuse it when it is there")
    args = parser.parse_args()
    os.environ.update(TELEMETRY_OFF)
    store = generate_store(replace(SyntheticParams.preset(args.size), seed=args.seed))
    events = store.events.copy()
    cutoff = events["occurred_at"].max().normalize() - pd.Timedelta(days=args.holdout_days - 1)
    after = events[events["occurred_at"] >= cutoff]
    with tempfile.TemporaryDirectory(prefix="tailor-sq-") as scratch:
        home = (args.work or Path(scratch)) / "home"
        if not (home / "bentoml").exists():
            train(store, cutoff, home, args.tuning_seconds)
        tag, folder = promoted(home)
        engine = engine_for(folder, tag, ServingSettings(cache_size=0))
        state = engine.state
        rules = state.profile_rules
        profiles: dict[tuple, Profile | None] = {}
        engine.visitors.profiles = lambda _, ids: [profiles.get(i) for i in ids]
        per_user = {u: rows for u, rows in after.sort_values(["occurred_at", "event_id"]
                                                              ).groupby("user_id")}
        scores: dict[str, list[float]] = {name: [] for name in (
            "known_live", "known_batch", "known_live_new", "known_batch_new", "anon_live",
            "anon_trending", "anon_context", "anon_live_new", "anon_trending_new",
            "anon_context_new")}
        judged = sessions(after)
        n_known = 0
        for user, _session, seen, targets, fresh in judged:
            first_at = seen["occurred_at"].iloc[0]
            history = per_user[user]
            before = history[(history["occurred_at"] < first_at)]
            customer = Profile(f"user:{user}")
            for row in [*before.itertuples(), *seen.itertuples()]:
                customer = rules.apply(customer, live_event(row))
            visitor = Profile(f"anon:{user}")
            for row in seen.itertuples():
                visitor = rules.apply(visitor, {**live_event(row), "user_id": None})

            def items(**request) -> list[str]:
                answer = engine.recommend(RecommendRequest(k=10, **request), "bench")
                return [i.item_id for i in answer.items]

            if state.user(user) is not None:  # a customer the model knows, with a history
                n_known += 1
                profiles[(user, None)] = customer
                live = items(user_id=user)
                profiles[(user, None)] = None
                batch = items(user_id=user)
                for name, got in (("known_live", live), ("known_batch", batch)):
                    scores[name].append(ndcg(got, targets))
                    if fresh:
                        scores[f"{name}_new"].append(ndcg(got, fresh))
            anonymous = f"sq-{user}-{_session}"
            profiles[(None, anonymous)] = visitor
            live = items(anonymous_id=anonymous)
            profiles[(None, anonymous)] = None
            trending = items(anonymous_id=anonymous)
            context = items(anonymous_id=anonymous, context=RecommendContext(
                viewed_item_ids=list(dict.fromkeys(seen["item_id"].tolist()))))
            for name, got in (("anon_live", live), ("anon_trending", trending),
                              ("anon_context", context)):
                scores[name].append(ndcg(got, targets))
                if fresh:
                    scores[f"{name}_new"].append(ndcg(got, fresh))
    results = {"model": state.version, "cutoff": str(cutoff), "sessions": len(judged),
               "known_sessions": n_known, "holdout_days": args.holdout_days,
               "size": args.size, "seed": args.seed,
               "ndcg": {k: float(np.mean(v)) if v else None for k, v in scores.items()},
               "n": {k: len(v) for k, v in scores.items()}}
    print(json.dumps(results, indent=2))
    write_report(HERE / "session_quality.md", results)
    return 0


def write_report(path: Path, r: dict) -> None:
    s, n = r["ndcg"], r["n"]

    def lift(a: str, b: str) -> str:
        return f"{(s[a] / s[b] - 1) * 100:+.1f}%" if s[b] else "n/a"

    lines = [
        "# In-session quality: answers with the online profile vs without",
        "",
        f"Synthetic store ({r['size']}, seed {r['seed']}); the last {r['holdout_days']} days "
        f"(from {r['cutoff']}) held back as live traffic; model `{r['model']}` trained by "
        f"`tailor run --source files` on the days before. {datetime.now(UTC):%Y-%m-%d %H:%M}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "Reproduce: `.venv/bin/python docs/benchmarks/session_quality_benchmark.py` (`--work DIR` keeps the trained home).",
        "",
        f"Judged sessions: {r['sessions']:,} (at least {FIRST + 1} interactions, a cart or "
        f"purchase after the {FIRST}rd); {r['known_sessions']:,} of them of customers the model "
        "knows. NDCG@10 against the items the session carts or buys after its first "
        f"{FIRST} events (new items: those not among the first {FIRST} events' items).",
        "",
        "| visitors | answer | NDCG@10 all targets | NDCG@10 new items | sessions (all / new) |",
        "|---|---|---|---|---|",
        f"| known customers | with the profile (stream) | {s['known_live']:.4f} | "
        f"{s['known_live_new']:.4f} | {n['known_live']:,} / {n['known_live_new']:,} |",
        f"| known customers | batch-only (the model alone) | {s['known_batch']:.4f} | "
        f"{s['known_batch_new']:.4f} | |",
        f"| anonymous | with the session's profile | {s['anon_live']:.4f} | "
        f"{s['anon_live_new']:.4f} | {n['anon_live']:,} / {n['anon_live_new']:,} |",
        f"| anonymous | trending (no profile, no context) | {s['anon_trending']:.4f} | "
        f"{s['anon_trending_new']:.4f} | |",
        f"| anonymous | the 3 items as context.viewed_item_ids, no profile | "
        f"{s['anon_context']:.4f} | {s['anon_context_new']:.4f} | |",
        "",
        f"Lift, known customers, profile vs batch-only: **{lift('known_live', 'known_batch')}** "
        f"(new items {lift('known_live_new', 'known_batch_new')}). Anonymous, profile vs "
        f"trending: **{lift('anon_live', 'anon_trending')}** (new items "
        f"{lift('anon_live_new', 'anon_trending_new')}); vs context alone: "
        f"{lift('anon_live', 'anon_context')} (new items "
        f"{lift('anon_live_new', 'anon_context_new')}).",
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
