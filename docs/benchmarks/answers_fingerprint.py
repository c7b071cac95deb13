"""A fingerprint of every answer the serving engine gives for one bundle: structure changes to
serving must leave it unchanged (same inputs -> same items, scores, reasons, fallbacks, arms).

    .venv/bin/python docs/benchmarks/answers_fingerprint.py --home H   # the promoted bundle of H

Asks, with the answer cache off: recommend (every customer; with a viewed/cart context; an
unknown visitor), homepage (every customer, unknown), cross_sell (every customer with a cart),
similar_items (every item), popular (overall, per category, per segment); then the same customers
and new anonymous visitors with live profiles (seeded views and carts after the model's cutoff),
and homepage answers under a 50/50 experiment. Prints one SHA-256 per endpoint group and one
over all; answers are hashed as JSON without request_id/cached.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from ml.experiments.design import Definitions, Experiment
from ml.online.profile import Profile
from ml.sources.contract import live_time_text
from serving import promoted_bundle
from serving.engine import Engine
from serving.schemas import (
    CrossSellRequest,
    HomepageRequest,
    PopularRequest,
    RecommendRequest,
    SimilarItemsRequest,
)

try:  # the modules before and after the second structure pass
    from ml.experiments.assignment import Running
    from serving.settings import ServingSettings
except ImportError:
    from ml.experiments.design import Running
    from serving.rules import ServingSettings


def _digest(answers: list) -> str:
    h = hashlib.sha256()
    for answer in answers:
        body = answer.model_dump(mode="json", exclude={"request_id", "cached"})
        h.update(json.dumps(body, sort_keys=True).encode())
    return h.hexdigest()


def _profiles(state, rng: random.Random, keys: list[tuple[str | None, str | None]]) -> dict:
    """A profile per (user_id, anonymous_id) with 1-6 views/carts after the model's cutoff."""
    items = state.item_id_list
    start = datetime(1970, 1, 1) + timedelta(seconds=float(state.live.cutoff) + 60)
    out = {}
    for n, (user_id, anonymous_id) in enumerate(keys):
        key = f"user:{user_id}" if user_id else f"anon:{anonymous_id}"
        profile = Profile(key)
        for j in range(rng.randint(1, 6)):
            event = {"event_id": f"e{n}-{j}", "user_id": user_id, "anonymous_id": anonymous_id,
                     "item_id": rng.choice(items),
                     "event_type": rng.choice(["view", "view", "add_to_cart"]),
                     "occurred_at": live_time_text(start + timedelta(minutes=n + j))}
            profile = state.profile_rules.apply(profile, event)
        out[(user_id, anonymous_id)] = profile
    return out


def _plug(engine: Engine, name: str, value) -> None:
    """Set the engine's profile reads, running experiments or exposure log, on the part that
    owns it (visitors, published, recorder), or on the engine itself before the split."""
    owners = {"profiles": ("visitors", "profiles"), "experiments": ("published", "running"),
              "exposures": ("recorder", "exposures")}
    owner, attribute = owners[name]
    if hasattr(engine, owner):
        setattr(getattr(engine, owner), attribute, value)
    else:
        setattr(engine, name, value)


def fingerprint(folder: Path) -> dict[str, str]:
    engine = Engine(ServingSettings(request_logs=False, cache_size=0))
    engine.load(folder, "tailor:fingerprint")
    state = engine.state
    rng = random.Random(0)
    customers = state.customer_ids()
    items = state.item_id_list
    rid = iter(range(10**9))

    def ask(method, request):
        return method(request, f"r{next(rid)}")

    groups: dict[str, list] = {}
    groups["recommend"] = [ask(engine.recommend, RecommendRequest(user_id=u, k=10))
                           for u in customers]
    groups["recommend"] += [ask(engine.recommend, RecommendRequest(
        user_id=u, k=8, placement="product_page",
        context={"viewed_item_ids": rng.sample(items, 2), "cart_item_ids": rng.sample(items, 1)}))
        for u in customers[::7]]
    groups["recommend"] += [ask(engine.recommend, RecommendRequest(
        anonymous_id="a-unknown", k=10, context={"viewed_item_ids": rng.sample(items, 2)}))]
    groups["homepage"] = [ask(engine.homepage, HomepageRequest(user_id=u, k=6))
                          for u in customers] + [ask(engine.homepage, HomepageRequest(anonymous_id="a-unknown", k=6))]
    groups["cross_sell"] = [ask(engine.cross_sell, CrossSellRequest(
        user_id=u, k=6, cart_item_ids=rng.sample(items, 2))) for u in customers]
    groups["similar_items"] = [ask(engine.similar_items, SimilarItemsRequest(item_id=i, k=8))
                               for i in items]
    groups["popular"] = [ask(engine.popular, PopularRequest(k=10))]
    groups["popular"] += [ask(engine.popular, PopularRequest(k=10, category=c))
                          for c in sorted(state.category_index)]
    groups["popular"] += [ask(engine.popular, PopularRequest(k=10, segment=s))
                          for s in sorted(state.segment_scores)]

    keys = [(u, None) for u in customers[::5]] + [(None, f"anon-{n}") for n in range(300)]
    profiles = _profiles(state, rng, keys)
    _plug(engine, "profiles", lambda rules, ids: [profiles.get(tuple(i)) for i in ids])
    groups["live"] = [ask(engine.recommend, RecommendRequest(user_id=u, anonymous_id=a, k=10))
                      for u, a in keys]
    groups["live"] += [ask(engine.homepage, HomepageRequest(user_id=u, anonymous_id=a, k=6))
                       for u, a in keys]
    groups["live"] += [ask(engine.cross_sell, CrossSellRequest(
        user_id=u, anonymous_id=a, k=6, cart_item_ids=rng.sample(items, 1))) for u, a in keys]

    experiment = Experiment.model_validate({
        "name": "fingerprint", "placement": "homepage", "salt": "fingerprint-salt",
        "variants": [{"name": "control", "weight": 50, "serves": "trending"},
                     {"name": "treatment", "weight": 50, "serves": "personalized"}],
        "start_at": datetime(2000, 1, 1), "planned_visitors": 100})
    _plug(engine, "experiments", Running(Definitions(experiments=[experiment]), "v"))
    exposures: list[dict] = []
    _plug(engine, "exposures", exposures.append)
    groups["experiment"] = [ask(engine.homepage, HomepageRequest(user_id=u, anonymous_id=a, k=6))
                            for u, a in keys + [(u, None) for u in customers[1::5]]]
    digests = {name: _digest(answers) for name, answers in groups.items()}
    digests["exposures"] = hashlib.sha256(json.dumps(
        [{k: v for k, v in e.items() if k not in ("request_id", "event_id", "occurred_at")}
         for e in exposures], sort_keys=True, default=str).encode()).hexdigest()
    digests["all"] = hashlib.sha256("".join(digests.values()).encode()).hexdigest()
    digests["answers"] = str(sum(len(a) for a in groups.values()))
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--home", type=Path, help="a Tailor home: its promoted bundle")
    where.add_argument("--bundle", type=Path, help="a bundle folder")
    args = parser.parse_args()
    folder = args.bundle or promoted_bundle(args.home)
    for name, value in fingerprint(folder).items():
        print(f"{name:14} {value}")


if __name__ == "__main__":
    main()
