"""The real-time part of `tailor demo`: events into the running service, and the next answers.

After the pipeline has promoted a model, the demo starts what a shop runs (this home's Redis,
`bentoml serve` of the Recommender with its event stream, one `tailor stream-worker`) and, over
HTTP as a shop's front end would:

1. asks /recommend for a customer the stream knows nothing about yet;
2. posts three views of items of a category that answer did not show (and one event with a bad
   event_type, which is rejected with its field and reason while the three are accepted);
3. asks again at once: the answer reflects the views before any worker ran (read-your-writes:
   serving/stream/profiles.py);
4. does the same for a new anonymous visitor, who gets trending before and a session-based
   answer after;
5. lets the stream worker apply the events to the profiles (their applied markers are checked).

The ids are pseudonymous (the synthetic store's and a random visitor id); the events are real
events of this home's stream, so a drain into the warehouse (`raw_shop_data`, source `stream`)
would load them like any other.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import numpy as np

from orchestration.lib.env import TailorHome

K = 5
VIEWS = 3
APPLY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Answer:
    personalized: bool
    items: list[tuple[str, str]]  # (title, category)

    def share(self, category: str) -> int:
        return sum(c == category for _, c in self.items)


@dataclass(frozen=True)
class VisitorRun:
    who: str  # "customer <id>" or "anonymous visitor <id>"
    category: str  # the category of the items viewed
    before: Answer
    after: Answer  # asked right after the events' 2xx, before any worker ran


@dataclass(frozen=True)
class LiveDemo:
    customer: VisitorRun
    anonymous: VisitorRun
    accepted: int
    rejected: list[dict]  # {"field", "reason", ...} per rejected event
    applied: int  # accepted events whose applied marker the stream worker wrote
    elapsed_s: float


def run_live_demo(home: TailorHome) -> LiveDemo | None:
    """The demo above on this home's promoted model; None when there is none."""
    from ml.bundle import load_bundle
    from ml.consent import load_consent
    from ml.schema import GUEST_PREFIX
    from serving import promoted_bundle
    from serving.stream.local_redis import redis_for
    from serving.stream.profiles import PROFILE
    from serving.stream.redis_stream import connect

    folder = promoted_bundle(home.root)
    if folder is None:
        return None
    started = time.monotonic()
    index = load_bundle(folder).model.index
    consent = load_consent(folder)
    with redis_for(home.root) as url, _service(home, url) as http:
        client = connect(url)
        # a customer with a history who allows personalization and has no online profile yet
        customer = next(u for u in index.user_ids.tolist()
                        if not u.startswith(GUEST_PREFIX) and index.has_history(index.user_index[u])
                        and consent.allows(u) and not client.exists(f"{PROFILE}user:{u}"))
        visitor = f"demo-visitor-{uuid.uuid4().hex[:12]}"
        runs, posted, rejected = [], [], []
        for who, ids in ((f"customer {customer}", {"user_id": customer}),
                         (f"anonymous visitor {visitor}", {"anonymous_id": visitor})):
            before = _recommend(http, ids)
            shown = {c for _, c in before.items} | {r.category for r in runs}
            category, items = _unshown_category(index, shown)
            events = [_view(ids, item) for item in items]
            if not runs:  # one bad event beside the good ones: rejected alone, with its reason
                events.append({**_view(ids, items[0]), "event_type": "teleport"})
            body = _post(http, "/events", {"events": events})
            rejected += body["rejected"]
            posted += body["accepted"]
            runs.append(VisitorRun(who, category, before, _recommend(http, ids)))
        applied = _apply(home, url, client, posted)
    return LiveDemo(runs[0], runs[1], len(posted), rejected, applied,
                    time.monotonic() - started)


def format_live_demo(demo: LiveDemo | None) -> str:
    if demo is None:
        return "Real time: no promoted model to serve"
    lines = [f"Real time ({demo.elapsed_s:.0f} s): POST /events and /recommend on `bentoml serve`"
             " with this home's Redis stream, then one `tailor stream-worker`"]
    for run in (demo.customer, demo.anonymous):
        lines += [f"  {run.who}: {K} recommendations by category {_describe(run.before)}",
                  f"    after {VIEWS} views of {run.category}, asked at once (before any worker "
                  f"ran): {_describe(run.after)}, {run.after.share(run.category)} of {K} from "
                  f"{run.category}"]
    bad = "; ".join(f"{r['field']}: {r['reason']}" for r in demo.rejected) or "none"
    lines.append(f"  events: {demo.accepted} accepted, {len(demo.rejected)} rejected ({bad}); "
                 f"the stream worker applied {demo.applied} of {demo.accepted} to the profiles")
    return "\n".join(lines)


def _describe(answer: Answer) -> str:
    kind = "personal" if answer.personalized else "not personal"
    return f"{kind} [" + ", ".join(c for _, c in answer.items) + "]"


@contextlib.contextmanager
def _service(home: TailorHome, redis_url: str) -> Iterator[httpx.Client]:
    """`bentoml serve` of the Recommender on this home with the stream, one worker, answer cache
    as configured; stopped when the block ends."""
    from serving import REPO_ROOT, serve_command
    from serving.process import free_port, start_until_ready, stop
    from serving.stream.local_redis import URL_ENV

    port = free_port()
    argv, env = serve_command(home.root, "127.0.0.1", port)
    env.update({URL_ENV: redis_url, "TAILOR_SERVING_WORKERS": "1",
                "TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0"})
    log = home.root / "logs" / "demo_serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    server = start_until_ready(argv, env, REPO_ROOT, url, log)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            yield http
    finally:
        stop(server)


def _post(http: httpx.Client, path: str, body: dict) -> dict:
    response = http.post(path, json=body)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
    return response.json()


def _recommend(http: httpx.Client, ids: dict) -> Answer:
    body = _post(http, "/recommend", {**ids, "k": K})
    return Answer(body["personalized"], [(i["title"], i["category"]) for i in body["items"]])


def _unshown_category(index, shown: set[str]) -> tuple[str, list[str]]:
    """The category with the most items among those not in `shown`, and its VIEWS most trending
    items."""
    counts = np.bincount(index.category_codes, minlength=len(index.categories))
    for code in np.argsort(-counts, kind="stable").tolist():
        name = str(index.categories[code])
        if name not in shown and counts[code] >= VIEWS:
            members = np.flatnonzero(index.category_codes == code)
            top = members[np.argsort(-index.trending[members], kind="stable")[:VIEWS]]
            return name, [str(index.catalog.item_ids[i]) for i in top]
    raise RuntimeError(f"no category of {VIEWS}+ items outside the answer's ({sorted(shown)})")


def _view(ids: dict, item: str) -> dict:
    from ml.sources.contract import live_time_text

    session = f"demo-{next(iter(ids.values()))}"
    return {"event_id": f"demo-{uuid.uuid4()}", **ids, "session_id": session, "item_id": item,
            "event_type": "view", "placement": "product_page",
            "occurred_at": live_time_text(datetime.now(UTC))}


def _apply(home: TailorHome, url: str, client, event_ids: list[str]) -> int:
    """`tailor stream-worker` until every event of `event_ids` is applied (or APPLY_TIMEOUT_S),
    then stopped: how many are."""
    from serving.stream.local_redis import URL_ENV
    from serving.stream.profiles import APPLIED

    env = {**os.environ, "TAILOR_HOME": str(home.root), URL_ENV: url}
    log = home.root / "logs" / "demo_stream_worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "stream-worker",
                                   "--consumer", "demo"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    keys = [APPLIED + i for i in event_ids]
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    try:
        while (applied := sum(m is not None for m in client.mget(keys))) < len(keys):
            if worker.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return applied
