"""Fixtures of the serving tests: one trained bundle per session, one running server per module."""

from __future__ import annotations

import os

import pytest
from serving_support import (
    VERSION_1,
    TrainedBundle,
    build_trained,
    promote,
    start_server,
    stop_server,
)

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


def pytest_configure(config):
    # BentoML 1.4.40's io_models call a pydantic hook deprecated in pydantic 2.11 (its code, not
    # ours): filtered by module, as STACK.md advises.
    config.addinivalue_line("filterwarnings",
                            "ignore::DeprecationWarning:_bentoml_sdk.io_models")


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TrainedBundle:
    return build_trained(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """`bentoml serve serving.service:Recommender` on version 1, cache on, reloads only on POST."""
    home = tmp_path_factory.mktemp("home")
    promote(home / "bentoml", trained.folder, VERSION_1)
    running = start_server(home, {
        "TAILOR_SERVING_CACHE_SIZE": "1000", "TAILOR_SERVING_CACHE_TTL_S": "600",
        "TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0", "TAILOR_SERVING_LOG_SALT": "test-salt",
        "TAILOR_SERVING_WORKERS": "1",
    })
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def stream_redis(tmp_path_factory):
    """A redis-server shared by a module's tests (tests/conftest.py's `redis_server` is one per
    test)."""
    from tests.conftest import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()

