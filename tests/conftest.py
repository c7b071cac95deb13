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
        import subprocess
        import time

        import redis

        from serving.stream.local_redis import server_argv

        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(server_argv(self.folder, socket=self.socket),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()}")

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
