"""`tailor serve` and `tailor ui` under a process manager: a SIGTERM to the tailor process (what
systemd, `docker stop` or a supervisor send) stops every process they started, so a restart
finds the port free; and the UI starts without dagster warning about its code location's name.

Real processes throughout: `tailor` as a subprocess, BentoML's arbiter and workers, dagster dev's
webserver, daemon and code servers. psutil (not the code under test) finds what they started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from serving.process import free_port
from tests.serving.serving_support import VERSION_1, build_trained, promote

pytestmark = pytest.mark.integration

TAILOR = Path(sys.executable).parent / "tailor"
STOP_S = 15  # the supervisor's grace (8 s) and SIGKILL wait (2 s), and some slack


def start_tailor(command: str, home: Path, port: int, log: Path) -> subprocess.Popen:
    """`tailor <command>` as a shell script's `tailor ... &` starts it: with SIGINT ignored,
    which dagster dev copies onto SIGTERM (that, not the signal, stopped nothing before)."""
    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_SERVING_WORKERS": "1"}
    with log.open("w") as out:
        return subprocess.Popen(
            ["sh", "-c", 'trap "" INT; exec "$0" "$@"', str(TAILOR), command, "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until(ready, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready in {timeout} s:\n{log.read_text()}")


def tree(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def running(processes: list[psutil.Process]) -> list[str]:
    """Those still running (a zombie holds nothing), as `pid command` for the failure message."""
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` again (with SO_REUSEADDR, as servers bind: only a
    socket still listening there refuses it, not the closed connections in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def assert_sigterm_stops_everything(process: subprocess.Popen, port: int, log: Path) -> None:
    started = tree(process)
    try:
        os.kill(process.pid, signal.SIGTERM)  # the tailor process only, as a process manager does
        try:
            code = process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            code = None
        deadline = time.monotonic() + 2
        while running(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running(started) == [], log.read_text()
        assert code == 0, f"exit code {code}:\n{log.read_text()}"  # a requested, clean stop
        assert port_is_free(port)
    finally:  # never leave a server behind, whatever failed above
        if process.poll() is None:
            process.kill()
            process.wait()
        for p in started:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


def test_sigterm_to_tailor_serve_stops_bentoml_and_its_workers(tmp_path):
    trained = build_trained(tmp_path / "bundle")
    promote(tmp_path / "home" / "bentoml", trained.folder, VERSION_1)
    port, log = free_port(), tmp_path / "serve.log"
    serve = start_tailor("serve", tmp_path / "home", port, log)
    url = f"http://127.0.0.1:{port}/readyz"
    wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, serve, log, timeout=120)
    # bentoml serve (the arbiter) and its worker, which runs in a session of its own
    assert len(tree(serve)) >= 2
    assert_sigterm_stops_everything(serve, port, log)


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename } } } } }"""


def test_sigterm_to_tailor_ui_stops_dagster_dev_and_the_code_location_loads_quietly(tmp_path):
    port, log = free_port(), tmp_path / "ui.log"
    ui = start_tailor("ui", tmp_path / "home", port, log)
    entries: list[dict] = []

    def location_loaded() -> bool:
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": LOCATIONS},
                            timeout=5).json()
        entries[:] = answer["data"]["workspaceOrError"]["locationEntries"]
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    wait_until(location_loaded, ui, log, timeout=240)
    assert [e["locationOrLoadError"]["__typename"] for e in entries] == ["RepositoryLocation"]
    # dagster dev, its webserver, daemon, code server and the code server's gRPC server
    assert len(tree(ui)) >= 5
    assert_sigterm_stops_everything(ui, port, log)
    # The name of the location in workspace.yaml and the one dagster derived from pyproject (the
    # checkout's folder name) used to differ: a warning at every load of the definitions.
    output = log.read_text()
    assert "does not match the name" not in output
    assert "Dagster services shut down" in output  # the output was read after a graceful stop
