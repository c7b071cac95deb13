"""Start a `bentoml serve` process and wait until it is ready; stop it with all its workers.

Shared by the HTTP tests and the load benchmark, which both need a real server on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_until_ready(argv: list[str], env: dict[str, str], cwd: Path, url: str, log: Path,
                      timeout: float = 120) -> subprocess.Popen:
    """Run `argv` in its own process group, output to `log`; return once `url`/readyz is 200."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {process.returncode}:\n"
                               f"{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"bentoml serve not ready in {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop the server and its workers (its own process group, so no worker is left behind)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()
