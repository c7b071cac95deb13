"""A local Redis for a Tailor home, when no `TAILOR_REDIS_URL` says where the shop's Redis is.

`tailor serve` and `tailor stream-worker` run inside `redis_for(home)`: it answers
`TAILOR_REDIS_URL` when set, else makes sure this home's own Redis runs and answers its URL. That
Redis listens on a unix socket in `<home>/redis/` only (no TCP port to collide with or to expose),
keeps its append-only file there, and fsyncs it before every answer (`appendfsync always`): an
event that got a 2xx survives `kill -9` of Redis and a crash of the machine. The command that
started it stops it when it ends (SIGTERM: Redis finishes its file); one that found it running
leaves it to its starter, so a service and several workers can share it (stopping the starter
stops it for all: the others wait and retry until it is back; a shop runs its own Redis and sets
`TAILOR_REDIS_URL`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

URL_ENV = "TAILOR_REDIS_URL"
REDIS_SERVER = "redis-server"
START_TIMEOUT_S = 20.0


def redis_folder(home_root: Path) -> Path:
    return Path(home_root) / "redis"


def local_url(home_root: Path) -> str:
    return f"unix://{redis_folder(home_root) / 'redis.sock'}"


def server_argv(folder: Path, port: int = 0, socket: Path | None = None) -> list[str]:
    """redis-server with Tailor's durability: AOF on, fsync before every answer, no RDB
    snapshots (the AOF is the record); `port` 0 = unix socket only."""
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        raise RuntimeError("redis-server is not installed: `make install` installs Debian's "
                           "redis-server (or set TAILOR_REDIS_URL to a running Redis)")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--logfile", str(folder / "redis.log")]
    if socket is not None:
        argv += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    return argv


@contextlib.contextmanager
def redis_for(home_root: Path, environ: dict[str, str] | None = None) -> Iterator[str]:
    """`TAILOR_REDIS_URL`, else the URL of this home's Redis: started if it is not running, and
    then stopped again when the block ends."""
    from serving.settings import environment

    url = environment(environ).redis_url
    if url:
        yield url
        return
    started = start_local_redis(home_root)
    try:
        yield local_url(home_root)
    finally:
        if started:
            stop_local_redis(home_root)


def start_local_redis(home_root: Path) -> bool:
    """Start this home's Redis unless it answers already; whether it was started here."""
    import redis

    folder = redis_folder(home_root)
    folder.mkdir(parents=True, exist_ok=True)
    # Two commands starting at once: the second waits, then finds the first one's Redis.
    with (folder / "start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = redis.Redis.from_url(local_url(home_root), socket_timeout=2)
        if _answers(client):
            return False
        process = run_redis(folder, folder / "redis.sock", new_session=True)
        (folder / "redis.pid").write_text(str(process.pid))
        return True


def run_redis(folder: Path, socket: Path, new_session: bool = False) -> subprocess.Popen:
    """redis-server (`server_argv`) on `socket`, its files in `folder`, once it answers; what this
    module, the tests and the benchmark start. `new_session`: it outlives a Ctrl-C of ours."""
    import redis

    socket.unlink(missing_ok=True)
    process = subprocess.Popen(server_argv(folder, socket=socket), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=new_session)
    client = redis.Redis.from_url(f"unix://{socket}", socket_timeout=2)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = folder / "redis.log"
            raise RuntimeError(f"redis-server exited with {process.returncode}: "
                               f"{log.read_text()[-2000:] if log.exists() else ''}")
        if _answers(client):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not answer on {socket} within {START_TIMEOUT_S} s")


def stop_local_redis(home_root: Path, timeout: float = 10.0) -> bool:
    """SIGTERM this home's Redis (it finishes writing its AOF) and wait; False if none ran."""
    pid_file = redis_folder(home_root) / "redis.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (our own child, not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ", 1)[1][:1] not in (b"Z", b"X")
    except OSError:
        return False
