"""`tailor recommend`, `tailor export-recommendations`: the promoted model's answers, as the HTTP
service gives them (the same engine, consent decision, business rules and serving settings)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestration.cli.options import PLACEMENTS, k_items
from orchestration.cli.status import model_store
from orchestration.lib.env import TailorHome


def add_parsers(commands) -> None:
    recommend = commands.add_parser(
        "recommend",
        help="recommendations for one user from the promoted model",
        description="Top-k items for one user from the promoted model: the answer of the HTTP "
        "service's /recommend (the same engine, consent decision, business rules and serving "
        "settings, TAILOR_SERVING_*). Visitors the model does not know and customers without "
        "personalization consent get the non-personalized answer, marked as such.",
    )
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("--k", type=k_items, default=10, help="items (1-100)")
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
    export.add_argument("--k", type=k_items, default=10, help="items per customer (1-100)")
    export.add_argument("--placement", choices=PLACEMENTS, default="email")
    export.add_argument("--out", type=Path, required=True, help="a .csv or .parquet file")
    export.set_defaults(handler=_export)


def _champion_engine(home: TailorHome):
    """The serving engine on the promoted model, with the service's settings (no answer cache,
    no answer logs: one process, one pass)."""
    champion = model_store(home).champion()
    if champion is None:
        print(
            "error: no promoted model in this home; run `tailor demo` or `tailor run` first",
            file=sys.stderr,
        )
        return None
    from serving.engine import engine_for
    from serving.settings import load_settings

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
