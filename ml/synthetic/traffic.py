"""Simulated visitors against the real HTTP service (`tailor simulate-traffic`).

Each visitor asks POST /homepage for their carousels, reacts as ml/synthetic/responses.py says,
and posts what they did through POST /events, as a shop's front end would: clicks, carts and
purchases of shown items carry the answer's request_id; an organic purchase carries none. Two
kinds of visitor:
- a customer of the store (their user_id, and a new device's anonymous_id: the events stitch the
  two), at most once each, `customer_share` of the visitors;
- a new visitor with a customer's tastes (a look-alike) who browses VIEWS items of a subcategory
  of those tastes first (posted as views before the homepage request, so the treatment arm's
  answer can use them at once: read-your-writes).

Times: an answer is at the real time of the request; the visitor's events follow it by seconds
to minutes (inside the contract's 5 minutes of tolerance for clocks ahead), so sessions have a
length. For each visitor the expected outcomes of the answer they got are summed per arm: the
run's true lift, for the analysis to find.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import numpy as np

from ml.synthetic.responses import SimulatedShoppers

VIEWS = 2
EVENTS_PER_POST = 200
CLICK_S, CART_S, BUY_S = (5, 30), (40, 90), (100, 200)  # seconds after the answer


@dataclass
class ArmTotals:
    visitors: int = 0
    expected_conversion: float = 0.0
    expected_revenue: float = 0.0
    conversions: int = 0
    revenue: float = 0.0
    clicks: int = 0

    def add(self, other: ArmTotals) -> None:
        for name in ("visitors", "expected_conversion", "expected_revenue", "conversions",
                     "revenue", "clicks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class TrafficResult:
    experiment: str | None = None
    arms: dict[str, ArmTotals] = field(default_factory=lambda: defaultdict(ArmTotals))
    requests: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def true_lift(self, metric: str = "conversion") -> float | None:
        """Expected treatment minus expected control per visitor, over the answers served."""
        control, treatment = self.arms.get("control"), self.arms.get("treatment")
        if not control or not treatment or not control.visitors or not treatment.visitors:
            return None
        name = f"expected_{metric}"
        return (getattr(treatment, name) / treatment.visitors
                - getattr(control, name) / control.visitors)

    def to_dict(self) -> dict:
        arms = {a: {**vars(t), "expected_conversion_rate": t.expected_conversion / t.visitors,
                    "expected_revenue_per_visitor": t.expected_revenue / t.visitors}
                for a, t in sorted(self.arms.items()) if t.visitors}
        latencies = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {"experiment": self.experiment, "visitors": sum(t.visitors for t in
                                                               self.arms.values()),
                "arms": arms, "true_conversion_lift": self.true_lift("conversion"),
                "true_revenue_lift": self.true_lift("revenue"), "requests": self.requests,
                "events": self.events, "errors": self.errors[:20], "error_count": len(self.errors),
                "homepage_p50_ms": float(np.percentile(latencies, 50)),
                "homepage_p99_ms": float(np.percentile(latencies, 99)),
                "elapsed_s": self.elapsed_s}


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Visitors:
    """One worker thread's share of the visitors, with its own client and random stream."""

    def __init__(self, url: str, shoppers: SimulatedShoppers, run: str, seed: int, k: int) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.shoppers = shoppers
        self.run = run
        self.rng = np.random.default_rng(seed)
        self.k = k
        self.pending: list[dict] = []
        self.result = TrafficResult()

    def post(self, path: str, body: dict) -> dict | None:
        started = time.perf_counter()
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as error:
            self.result.errors.append(f"{path}: {type(error).__name__}")
            return None
        self.result.requests += 1
        if path == "/homepage":
            self.result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            self.result.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def send(self, events: list[dict], force: bool = False) -> None:
        self.pending.extend(events)
        while self.pending and (force or len(self.pending) >= EVENTS_PER_POST):
            batch, self.pending = self.pending[:EVENTS_PER_POST], self.pending[EVENTS_PER_POST:]
            answer = self.post("/events", {"events": batch})
            if answer is not None:
                self.result.events += len(answer["accepted"])
                for rejected in answer["rejected"]:
                    self.result.errors.append(f"event rejected: {rejected['field']}: "
                                              f"{rejected['reason']}")

    def visit(self, number: int, visitor: int, customer: bool) -> None:
        s = self.shoppers
        anonymous = f"{self.run}-v{number}"
        ids = {"anonymous_id": anonymous, **({"user_id": str(s.user_ids[visitor])}
                                              if customer else {})}
        session = f"{self.run}-s{number}"
        now = datetime.utcnow()
        if not customer:  # a new visitor browses first: the treatment can use it at once
            browsed = s.intent_items(visitor, self.rng, VIEWS)
            self.send([self._event(f"{number}-b{n}", ids, session, "view", s.item_ids[item],
                                   now - timedelta(seconds=30 - n))
                       for n, item in enumerate(browsed)], force=True)
        answer = self.post("/homepage", {**ids, "k": self.k})
        if answer is None:
            return
        shown = [item["item_id"] for c in answer["carousels"] for item in c["items"]]
        items = s.items_of(shown)
        arm = answer.get("variant") or "left_out"  # no consent: outside the experiment
        self.result.experiment = self.result.experiment or answer.get("experiment")
        expected = s.expected(visitor, items)
        drawn = s.draw(visitor, items, self.rng)
        totals = self.result.arms[arm]
        totals.visitors += 1
        totals.expected_conversion += expected.conversion
        totals.expected_revenue += expected.revenue
        totals.clicks += len(drawn["clicked"])
        request = answer["request_id"]
        events, revenue = [], 0.0

        def at(span) -> datetime:
            return now + timedelta(seconds=float(self.rng.uniform(*span)))

        for position in drawn["clicked"]:
            item = shown[position]
            when = at(CLICK_S)
            events.append(self._event(f"{number}-c{position}", ids, session, "click", item,
                                      when, request_id=request, placement="homepage"))
            events.append(self._event(f"{number}-v{position}", ids, session, "view", item,
                                      when + timedelta(seconds=1)))
        for position in drawn["carted"]:
            events.append(self._event(f"{number}-a{position}", ids, session, "add_to_cart",
                                      shown[position], at(CART_S), request_id=request,
                                      placement="homepage", quantity=1))
        order = f"{self.run}-o{number}"
        for position in drawn["bought"]:
            price = float(s.price[items[position]])
            revenue += price
            events.append(self._event(f"{number}-p{position}", ids, session, "purchase",
                                      shown[position], at(BUY_S), request_id=request,
                                      placement="homepage", quantity=1, price=price,
                                      order_id=order))
        if drawn["organic"] is not None:
            item = s.item_ids[drawn["organic"]]
            price = float(s.price[drawn["organic"]])
            revenue += price
            events.append(self._event(f"{number}-ov", ids, session, "view", item, at(CART_S)))
            events.append(self._event(f"{number}-op", ids, session, "purchase", item,
                                      at(BUY_S), quantity=1, price=price, order_id=order))
        if drawn["bought"].size or drawn["organic"] is not None:
            totals.conversions += 1
            totals.revenue += revenue
        self.send(events)

    def _event(self, suffix: str, ids: dict, session: str, kind: str, item: str,
               when: datetime, **fields) -> dict:
        return {"event_id": f"{self.run}-{suffix}", "session_id": session, "item_id": str(item),
                "event_type": kind, "occurred_at": _time(min(when, datetime.utcnow()
                                                             + timedelta(minutes=4))),
                **ids, **fields}


def simulate_traffic(url: str, shoppers: SimulatedShoppers, visitors: int,
                     customer_share: float = 0.1, seed: int = 0, concurrency: int = 8, k: int = 10,
                     run: str | None = None) -> TrafficResult:
    """`visitors` simulated visits against the service at `url` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    run = run or f"sim{seed}-{int(time.time())}"
    customers = min(int(round(visitors * customer_share)), len(shoppers.user_ids))
    plan = [(n, int(v), True) for n, v in enumerate(rng.permutation(len(shoppers.user_ids))
                                                   [:customers])]
    plan += [(n, int(rng.integers(len(shoppers.user_ids))), False)
             for n in range(customers, visitors)]
    rng.shuffle(plan)
    workers = [_Visitors(url, shoppers, run, seed * 1000 + w, k) for w in range(concurrency)]
    lock = threading.Lock()
    position = iter(plan)

    def work(worker: _Visitors) -> None:
        while True:
            with lock:
                step = next(position, None)
            if step is None:
                break
            worker.visit(*step)
        worker.send([], force=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, workers))
    result = TrafficResult(elapsed_s=time.perf_counter() - started)
    for worker in workers:
        worker.http.close()
        part = worker.result
        result.experiment = result.experiment or part.experiment
        for arm, totals in part.arms.items():
            result.arms[arm].add(totals)
        result.requests += part.requests
        result.events += part.events
        result.errors += part.errors
        result.latencies_ms += part.latencies_ms
    return result
