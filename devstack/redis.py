"""A private ``redis-server`` child process for tests, benchmarks and local stacks.

Unlike the embedded daemon of :mod:`worker.embedded` (shared, daemonized, outliving its
starter), this server belongs to the process that started it: a free TCP port on 127.0.0.1
and/or a unix socket, no persistence unless asked, reaped on :meth:`RedisProcess.stop`. Both
run with the same configuration (``maxmemory-policy noeviction``, ``appendfsync always``).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from devstack.ports import free_port
from worker.embedded import (
    LOG_FILE,
    STARTUP_TIMEOUT_S,
    EmbeddedRedisError,
    _ping,
    _server_args,
    _shutdown,
    _tail,
    redis_server_binary,
)

__all__ = ["RedisProcess"]


class RedisProcess:
    """A private ``redis-server`` child process; use as a context manager.

    ``port=0`` picks a free TCP port, ``port=None`` disables TCP (then give ``unix_socket``).
    ``.url`` prefers TCP (``redis://127.0.0.1:PORT/0``), else ``unix:///path``. After
    :meth:`stop` or :meth:`kill`, :meth:`start` restarts the server on the same port and
    folder, so clients reconnect to the same URL and, with ``appendonly=True``, find the data.
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = 0,
        unix_socket: Path | None = None,
        appendonly: bool = False,
        binary: str | None = None,
        extra: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        if port is None and unix_socket is None:
            raise ValueError("RedisProcess needs a TCP port or a unix socket")
        self.directory = Path(directory).resolve()
        self.unix_socket = Path(unix_socket).resolve() if unix_socket else None
        self.appendonly = appendonly
        self.binary = binary or redis_server_binary()
        self.extra = dict(extra or {})
        self.startup_timeout = startup_timeout
        self._want_port = port
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}"
        raise EmbeddedRedisError("server not started")

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> RedisProcess:
        """Start the server and wait until it answers PING.

        The first start with ``port=0`` picks a free port (and picks again if another process
        took it first); a restart reuses the port it had.
        """
        if self.pid is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        pick = self._want_port == 0 and self.port is None
        attempts = 3 if pick else 1
        for attempt in range(attempts):
            if pick:
                self.port = free_port()
            elif self.port is None:
                self.port = self._want_port
            try:
                self._spawn()
                return self
            except EmbeddedRedisError:
                self._reap(timeout=2.0)
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        args = _server_args(
            self.directory,
            port=self.port or 0,
            unix_socket=self.unix_socket,
            appendonly=self.appendonly,
            extra=self.extra,
        )
        log_path = self.directory / LOG_FILE
        with log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                [self.binary, *args, "--daemonize", "no", "--logfile", ""],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + self.startup_timeout
        while not _ping(self.url, timeout=0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedRedisError(
                    f"redis-server did not start ({self.url}); log: {_tail(log_path)}"
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """SHUTDOWN NOSAVE (the AOF, if on, is still flushed), then reap the child."""
        if self.proc is None or self.proc.poll() is not None:
            self._reap(timeout)
            return
        _shutdown(self.url, timeout)
        self._reap(timeout)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (tests of durability and recovery)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._reap(timeout=5.0)

    def _reap(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
