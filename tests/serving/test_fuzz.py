"""Schemathesis over the service's own OpenAPI document (/docs.json), against a real server with
its event stream on a real Redis: generated valid and invalid requests to every endpoint never get
a server error, and every answer matches the documented schema. Bounded and seeded, so a run is
repeatable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from serving_support import VERSION_1, promote, start_server, stop_server

from tests.conftest import RedisServer

pytestmark = pytest.mark.integration

SEED = 20261201
MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """The service as `tailor serve` runs it: with the event stream (POST /events)."""
    redis_server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    home = tmp_path_factory.mktemp("home")
    promote(home / "bentoml", trained.folder, VERSION_1)
    running = start_server(home, {"TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0",
                                  "TAILOR_REDIS_URL": redis_server.url})
    yield running
    stop_server(running)
    redis_server.stop()


def test_generated_requests_get_no_server_error_and_schema_conforming_answers(server, tmp_path):
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [str(st), "run", f"{server.url}/docs.json",
         "--checks", "not_a_server_error,response_schema_conformance",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
         "--generation-database", "none", "--no-color", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "Operations:       11 selected / 11 total" in run.stdout, summary
    assert "No issues found" in run.stdout, summary
