"""Helpers of the serving tests: a small trained bundle, promotion into a BentoML store, and a real
`bentoml serve` of the Recommender started by the tests themselves (no Dagster, no services)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from ml.bundle import Bundle, load_bundle, save_bundle
from ml.candidates import AlsParams
from ml.consent import save_consent
from ml.data import Catalog, EventLog
from ml.evaluation.protocols import serve_split
from ml.ranking.features import RankerParams
from ml.ranking.training import TrainingParams, train
from ml.synthetic import SyntheticParams, generate_store
from serving import serve_command
from serving.process import free_port, start_until_ready, stop
from tests.builders import event_weights, interactions, products, split_features

REPO = Path(__file__).resolve().parents[2]
VERSION_1, VERSION_2 = "test-v1", "test-v2"


@dataclass(frozen=True)
class TrainedBundle:
    folder: Path  # version 1, with consent.parquet and segments.parquet
    bundle: Bundle
    opted_out: str  # a customer with a history who refused personalization
    customers: pd.DataFrame




def build_trained(root: Path) -> TrainedBundle:
    """Train on a small synthetic store and save the bundle (v1) under `root`, with a consent
    snapshot (one customer with a history opted out, the others with a history opted in) and
    customer segments (loyal = bought something, new = did not)."""
    store = generate_store(SyntheticParams(n_users=300, n_items=120, days=60))
    catalog = Catalog.from_products(products(store.products))
    log = EventLog.from_interactions(interactions(store.events), catalog)
    cutoff = float(log.time.max()) + 1.0
    params = TrainingParams(als=AlsParams(factors=16, iterations=5),
                            ranker=RankerParams(rounds=20))
    split = serve_split(log, cutoff)
    model = train(log, catalog, split, params, split_features(log, catalog, split))
    folder = root / "v1"
    save_bundle(model, folder, {"version": VERSION_1, "params": params.to_dict(),
                                "event_weights": event_weights()})  # as ml.challenger records

    index = model.index
    with_history = [u for u in index.user_ids.tolist() if index.history[index.user_index[u]].nnz]
    opted_out = with_history[3]
    customers = pd.DataFrame({"user_id": store.customers["user_id"].astype(str),
                              "consent_personalization":
                                  store.customers["consent_personalization"].astype("boolean")})
    customers.loc[customers["user_id"].isin(with_history), "consent_personalization"] = True
    customers.loc[customers["user_id"] == opted_out, "consent_personalization"] = False
    save_consent(customers, folder)
    bought = np.diff(index.purchase_counts.indptr) > 0
    pd.DataFrame({"user_id": index.user_ids.astype(str),
                  "segment": np.where(bought, "loyal", "new")}).to_parquet(
        folder / "segments.parquet")
    return TrainedBundle(folder, load_bundle(folder), opted_out, customers)


def promote(bentoml_home: Path, folder: Path, version: str) -> str:
    """Put a bundle folder into a BentoML store as the newest `tailor` model (as the pipeline's
    promotion does), in a subprocess so that this process's BentoML stays unbound."""
    code = (
        "import shutil, sys, bentoml\n"
        "with bentoml.models.create('tailor', metadata={'version': sys.argv[2]}) as m:\n"
        "    shutil.copytree(sys.argv[1], m.path, dirs_exist_ok=True)\n"
        "print(m.tag)\n")
    env = {**os.environ, "BENTOML_HOME": str(bentoml_home), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run([sys.executable, "-c", code, str(folder), version], env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def with_version(source: Path, target: Path, version: str, out_of_stock: list[str]) -> Path:
    """A copy of a bundle with another version and some items out of stock."""
    shutil.copytree(source, target)
    card = json.loads((target / "model_card.json").read_text())
    card["version"] = version
    (target / "model_card.json").write_text(json.dumps(card))
    catalog = pd.read_parquet(target / "catalog.parquet")
    catalog.loc[catalog["item_id"].isin(out_of_stock), "in_stock"] = False
    catalog.to_parquet(target / "catalog.parquet")
    return target



@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen
    log: Path

    def post(self, endpoint: str, body=None, **kwargs) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return httpx.post(f"{self.url}/{endpoint}", timeout=30, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{path}", timeout=30)

    def logs(self) -> str:
        return self.log.read_text()


def start_server(home: Path, env: dict[str, str], timeout: float = 90,
                 host: str = "127.0.0.1") -> Server:
    """`bentoml serve serving.service:Recommender` for `home` on a free port of `host`, once
    /readyz says 200 (asked on loopback)."""
    port = free_port()
    argv, environment = serve_command(home, host, port)
    environment.update(env)
    log = home / "server.log"
    url = f"http://127.0.0.1:{port}"
    process = start_until_ready(argv, environment, REPO, url, log, timeout)
    return Server(url, home, process, log)


def serve_with_stream(trained, tmp_path_factory, redis, **env: str) -> Server:
    """`bentoml serve` on version 1 with the event stream of `redis` (a RedisServer), one
    worker."""
    home = tmp_path_factory.mktemp("home")
    promote(home / "bentoml", trained.folder, VERSION_1)
    return start_server(home, {"TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0",
                               "TAILOR_SERVING_WORKERS": "1",
                               "TAILOR_REDIS_URL": redis.url, **env})


def run_worker_until_applied(redis_url: str, home: Path, consumer: str) -> tuple[int, str]:
    """`tailor stream-worker` until the profiles group has nothing left to apply, then stopped:
    (its exit status, its output)."""
    from serving.stream.redis_stream import RedisEventStream, connect

    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_REDIS_URL": redis_url}
    worker = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "stream-worker",
                               "--consumer", consumer], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        stream, deadline = RedisEventStream(connect(redis_url)), time.monotonic() + 60
        while (group := {g.name: g for g in stream.stats().groups}["profiles"]).lag or \
                group.pending:
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.1)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    return worker.returncode, output


def stop_server(server: Server) -> None:
    stop(server.process)


