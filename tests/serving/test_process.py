"""`serving.process.supervise`, what `tailor serve` and `tailor ui` run: nothing it started outlives
it. Real processes: a supervisor, its child, and a worker the child starts in a session of its own
(as BentoML's arbiter starts its workers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SUPERVISOR = ("import sys\nfrom serving.process import supervise\n"
              "sys.exit(supervise(sys.argv[2:], grace=float(sys.argv[1])))\n")
# argv: pid file, the worker's SIGTERM (ignore | default), then the child's own: exit3 (once the
# worker runs) | wait | ignore (ignores SIGTERM itself and waits)
CHILD = """\
import os, signal, subprocess, sys, time
pid_file, worker_term, child = sys.argv[1:4]
if child == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", sys.argv[4], pid_file, worker_term],
                 start_new_session=True)
while not os.path.exists(pid_file):
    time.sleep(0.01)
if child == "exit3":
    sys.exit(3)
time.sleep(60)
"""
# Writes its pid once its SIGTERM disposition is set (renamed into place: never half written).
WORKER = """\
import os, signal, sys, time
pid_file, term = sys.argv[1:3]
if term == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(pid_file + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(pid_file + ".tmp", pid_file)
time.sleep(60)
"""


def start(tmp_path: Path, grace: float, worker_term: str, child: str):
    """The supervisor and, once its child's worker runs, the worker's pid."""
    pid_file = tmp_path / "worker.pid"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(grace),
         sys.executable, "-c", CHILD, str(pid_file), worker_term, child, WORKER],
        cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the child did not start its worker"
        time.sleep(0.02)
    return supervisor, int(pid_file.read_text())


def gone(pid: int, timeout: float = 3) -> bool:
    """Whether the process exits within `timeout` s (a zombie holds nothing); else it is killed."""
    deadline = time.monotonic() + timeout
    try:
        process = psutil.Process(pid)
        while time.monotonic() < deadline:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
            time.sleep(0.05)
        process.kill()  # never leave it behind
    except psutil.NoSuchProcess:
        return True
    return False


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    supervisor, worker = start(tmp_path, grace=1.0, worker_term="ignore", child="wait")
    started = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 1  # the stop needed SIGKILL
    assert 1.0 <= time.monotonic() - started < 5
    assert gone(worker)
    assert "killed 1 process(es)" in supervisor.stderr.read()


def test_what_a_child_leaves_behind_is_stopped_and_its_exit_code_kept(tmp_path):
    # The child exits first: its worker, in a session of its own, re-parents to the supervisor.
    supervisor, worker = start(tmp_path, grace=5.0, worker_term="default", child="exit3")
    assert supervisor.wait(timeout=10) == 3
    assert gone(worker, timeout=0.5)


def test_a_second_stop_request_kills_at_once(tmp_path):
    supervisor, worker = start(tmp_path, grace=60.0, worker_term="ignore", child="ignore")
    started = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert supervisor.poll() is None  # the first one waits for a graceful exit
    supervisor.send_signal(signal.SIGINT)  # Ctrl-C again, or the supervisor insisting
    assert supervisor.wait(timeout=10) == 1
    assert time.monotonic() - started < 5
    assert gone(worker)
