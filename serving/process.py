"""Run servers as child processes and stop them with everything they started.

`supervise` is what `tailor serve` and `tailor ui` run in the foreground: systemd, `docker stop`
or a supervisor send SIGTERM to the tailor process only, and each server forks processes of its
own (BentoML's workers even call setsid: they are in no process group of ours).
`start_until_ready` and `stop` serve the HTTP tests and the load benchmark, which need a real
server on loopback. No dagster here: orchestration's `tailor ui` uses this module too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx

# Seconds a stop request waits for a graceful exit before SIGKILL: under `docker stop`'s 10 s.
GRACE_S = 8.0
KILL_WAIT_S = 2.0  # after SIGKILL, how long to wait for the kernel to take the processes down
POLL_S = 0.1
# What a request to stop becomes for the child. SIGHUP (the terminal went away) means stop:
# BentoML's arbiter would take it as "reload".
FORWARDED = {signal.SIGTERM: signal.SIGTERM, signal.SIGINT: signal.SIGINT,
             signal.SIGHUP: signal.SIGTERM}
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def supervise(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
              grace: float = GRACE_S) -> int:
    """Run `argv` in its own session until it exits or this process is asked to stop; leave none
    of its processes behind either way.

    SIGTERM, SIGINT and SIGHUP are forwarded to the child's process group (its session: a
    terminal's Ctrl-C reaches it only through here); once the child has exited, what is left of
    its processes gets SIGTERM; whatever still runs `grace` seconds after the request (or at a
    second request) gets SIGKILL. On Linux this process is the subreaper of the child's tree, so
    processes whose parent died first stay visible and are reaped here.

    Returns the child's exit code (128 + n if signal n ended it); after a requested stop, 0 if
    everything had exited within `grace` (a clean stop, as systemd and docker count it), else 1.
    """
    subreaper = _become_subreaper()
    requests: list[int] = []
    deadline = float("inf")
    process: subprocess.Popen | None = None

    def request_stop(signum, _frame) -> None:
        nonlocal deadline
        requests.append(signum)
        # A second request (Ctrl-C twice, a supervisor insisting) means now.
        deadline = time.monotonic() + grace if len(requests) == 1 else time.monotonic()
        if process is not None:
            _kill({-process.pid}, FORWARDED[signum])

    # Installed before the fork: handlers are reset to the default in the child at exec, whereas
    # an ignored SIGINT (`tailor ui &` in a script, nohup) would be inherited, and dagster dev
    # copies SIGINT's disposition onto SIGTERM: it would ignore our SIGTERM too.
    previous = {s: signal.signal(s, request_stop) for s in FORWARDED}
    try:
        process = subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True)
        if requests:  # asked to stop while the child was being started
            _kill({-process.pid}, FORWARDED[requests[0]])
        announced = 0
        while process.poll() is None and time.monotonic() < deadline:
            if len(requests) > announced:
                announced = len(requests)
                print(f"tailor: {signal.Signals(requests[-1]).name}: stopping {Path(argv[0]).name}"
                      f" (pid {process.pid}) and its processes", file=sys.stderr, flush=True)
            if subreaper:
                _reap_orphans(process.pid)
            time.sleep(POLL_S)

        def left() -> set[int]:
            if subreaper:
                _reap_orphans(process.pid)
            return _family(os.getpid(), process.pid)

        finish_by = time.monotonic() + grace  # for what a child that exited by itself left
        killed = _finish(process, left, lambda: min(deadline, finish_by))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if killed:
        print(f"tailor: killed {killed} process(es) still running {grace:.0f} s later",
              file=sys.stderr, flush=True)
    if requests:
        return 1 if killed else 0
    return process.returncode if process.returncode >= 0 else 128 - process.returncode


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
    """Stop a server started by `start_until_ready` and every process it started: SIGTERM to its
    process group, SIGKILL to what is left of its tree after `timeout` s."""
    # Its tree now: BentoML's workers have sessions of their own and outlive a killed arbiter.
    tree = _family(process.pid, process.pid)
    deadline = time.monotonic() + timeout
    _kill({-process.pid}, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    _finish(process, lambda: _live(tree) | _family(process.pid, process.pid), lambda: deadline)


def _finish(process: subprocess.Popen, left: Callable[[], set[int]],
            deadline: Callable[[], float]) -> int:
    """Once the leader has exited: SIGTERM what is left of its processes (nothing else will stop
    them now) and wait; at `deadline()` (a second stop request moves it), SIGKILL whatever still
    runs, the leader included. `left()` lists the live processes to wait for. Returns how many
    had to be killed."""
    terminated: set[int] = set()
    while time.monotonic() < deadline():
        leader_done = process.poll() is not None
        remaining = left()
        if leader_done and not remaining:
            return 0
        if leader_done:
            _kill(remaining - terminated, signal.SIGTERM)
            terminated |= remaining
        time.sleep(POLL_S)
    remaining = left() | ({process.pid} if process.poll() is None else set())
    _kill(remaining, signal.SIGKILL)
    end = time.monotonic() + KILL_WAIT_S
    while left() and time.monotonic() < end:
        time.sleep(POLL_S)
    try:
        process.wait(timeout=KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        pass
    return len(remaining)


def _kill(pids: set[int], sig: int) -> None:
    """Signal each pid (a negative one is a process group), ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _process_table() -> dict[int, tuple[int, int]] | None:
    """pid -> (parent pid, process group) of every live process, from /proc (zombies left out:
    they hold no port and no memory); None where there is no /proc."""
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:
        return None
    table = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # exited meanwhile
            continue
        state, ppid, pgid = stat[stat.rindex(b")") + 2:].split()[:3]
        if state not in (b"Z", b"X"):
            table[int(entry)] = (int(ppid), int(pgid))
    return table


def _family(root: int, group: int) -> set[int]:
    """Live descendants of `root` (not `root` itself) and live members of process group `group`.
    Without /proc only the group can be seen: {-group} while any member is alive."""
    table = _process_table()
    if table is None:
        return {-group} if _exists(-group) else set()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    found = {pid for pid, (_, pgid) in table.items() if pgid == group}
    # A worker in a session of its own is still a descendant: walk parent -> children as well.
    stack, seen = [root], set()
    while stack:
        for child in children[stack.pop()]:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return (found | seen) - {root}


def _live(pids: set[int]) -> set[int]:
    table = _process_table()
    return {p for p in pids if (p in table if table is not None else _exists(p))}


def _exists(pid: int) -> bool:
    """Whether `pid` (a process group if negative) has a process, zombies included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _become_subreaper() -> bool:
    """Linux: orphans in our child's tree re-parent to this process instead of init."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap_orphans(leader: int) -> None:
    """Collect the exit status of orphans that re-parented to us; the leader's is Popen's."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == leader:
            return
        os.waitpid(info.si_pid, 0)
