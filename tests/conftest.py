from __future__ import annotations

import os

# implicit runs its own OpenMP threads; set before numpy loads OpenBLAS (as the CLI does).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def online_retail_file() -> Path:
    return DATA / "online_retail_head.parquet"


@pytest.fixture(scope="session")
def rees46_file() -> Path:
    return DATA / "rees46_head.csv"


class RedisServer:
    """A real redis-server on a unix socket in a temporary folder, with Tailor's durability
    settings (serving/stream/local_redis.py); `kill()` is `kill -9`, `start()` starts it again
    on the same folder (its AOF)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process = None

    def start(self) -> RedisServer:
        from serving.stream.local_redis import run_redis

        self.process = run_redis(self.folder, self.socket)
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder).start()
    yield server
    server.stop()
