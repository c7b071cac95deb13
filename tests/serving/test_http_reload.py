"""Promoting a new model while `bentoml serve` runs: POST /reload (admin) and the background check
of tailor:latest swap the model without failing a request, and no cached answer of the old model
is served afterwards."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from serving_support import VERSION_1, VERSION_2, promote, start_server, stop_server, with_version

pytestmark = pytest.mark.integration


def customers(trained, n: int) -> list[str]:
    index = trained.bundle.model.index
    return [u for u in index.user_ids.tolist()
            if index.history[index.user_index[u]].nnz and u != trained.opted_out][:n]


class Load:
    """Requests in a loop from a thread, recording status and model version of each answer."""

    def __init__(self, url: str, users: list[str]) -> None:
        self.url, self.users = url, users
        self.results: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                user = self.users[i % len(self.users)]
                response = client.post(f"{self.url}/recommend", json={"user_id": user, "k": 5})
                version = response.json().get("model_version") if response.is_success else None
                self.results.append((response.status_code, version))
                i += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_admin_reload_swaps_models_under_load_and_drops_stale_answers(trained, tmp_path):
    home = tmp_path / "home"
    promote(home / "bentoml", trained.folder, VERSION_1)
    server = start_server(home, {"TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0",
                                 "TAILOR_SERVING_ADMIN_TOKEN": "s3cret",
                                 "TAILOR_SERVING_CACHE_TTL_S": "600"})
    try:
        user = customers(trained, 1)[0]
        first = server.post("recommend", {"user_id": user}).json()
        assert server.post("recommend", {"user_id": user}).json()["cached"] is True
        top = first["items"][0]["item_id"]
        newer = with_version(trained.folder, tmp_path / "v2", VERSION_2, out_of_stock=[top])
        promote(home / "bentoml", newer, VERSION_2)

        assert server.post("reload", {}).status_code == 403  # admin token required
        with Load(server.url, customers(trained, 50)) as load:
            time.sleep(0.5)
            reload = server.post("reload", {}, headers={"X-Admin-Token": "s3cret"})
            time.sleep(0.5)
        assert reload.status_code == 200, reload.text
        assert reload.json()["reloaded"] is True
        assert (reload.json()["previous_version"], reload.json()["model_version"]) == (
            VERSION_1, VERSION_2)
        statuses = [status for status, _ in load.results]
        versions = [version for _, version in load.results]
        assert len(statuses) > 20 and set(statuses) == {200}  # no request failed
        assert versions[0] == VERSION_1 and versions[-1] == VERSION_2
        assert versions == sorted(versions)  # once swapped, never back

        after = server.post("recommend", {"user_id": user}).json()
        assert (after["model_version"], after["cached"]) == (VERSION_2, False)
        assert top not in [i["item_id"] for i in after["items"]]
        again = server.post("reload", {}, headers={"X-Admin-Token": "s3cret"}).json()
        assert again["reloaded"] is False
        assert 'tailor_model_reloads_total{outcome="loaded"} 1.0' in server.get("metrics").text
    finally:
        stop_server(server)


def test_every_worker_picks_up_a_promoted_model_by_itself(trained, tmp_path):
    home = tmp_path / "home"
    promote(home / "bentoml", trained.folder, VERSION_1)
    server = start_server(home, {"TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0.5",
                                 "TAILOR_SERVING_WORKERS": "2"})
    try:
        user = customers(trained, 1)[0]
        assert server.post("recommend", {"user_id": user}).json()["model_version"] == VERSION_1
        newer = with_version(trained.folder, tmp_path / "v2", VERSION_2, out_of_stock=[])
        promote(home / "bentoml", newer, VERSION_2)
        deadline = time.monotonic() + 30
        streak = 0
        while streak < 40 and time.monotonic() < deadline:
            response = server.post("recommend", {"user_id": user})
            assert response.status_code == 200, response.text  # no request fails while swapping
            streak = streak + 1 if response.json()["model_version"] == VERSION_2 else 0
        assert streak == 40  # 40 answers in a row (both workers) from the new model
    finally:
        stop_server(server)
