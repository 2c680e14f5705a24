"""One set of local processes wired together: a Redis, the emulator, Celery workers and beat.

Tests, benchmarks and the demo run the product as deployed - ``celery -A worker worker`` and
``celery -A worker beat`` processes configured through the environment an operator would set
- minus TikTok. :class:`Stack` owns everything it starts and ends all of it on :meth:`Stack.stop`.

Everything lives in one folder::

    destinations.json   the destinations (mode 0600: it holds access tokens)
    data/               MASIVO_TIKTOK_DATA_DIR (heartbeat files)
    redis/              the private Redis's folder, or the embedded daemon's data folder
    <name>.log          one log per process: worker.log, worker-1.log, beat.log, emulator.log
    beat-schedule       beat's schedule
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from redis import Redis

from devstack.credentials import default_destinations
from devstack.emulator import EmulatorProcess
from devstack.processes import inherited_env, spawn, terminate
from devstack.redis import RedisProcess
from worker.store.connection import connect

__all__ = ["BIN", "Stack", "write_destinations"]

#: the scripts of this interpreter's environment (``masivo-tiktok``, ``celery``)
BIN = Path(sys.executable).parent


def write_destinations(path: Path, destinations: Sequence[Mapping[str, Any]]) -> Path:
    """Write a destinations file (JSON, which the worker reads as YAML), readable by us only."""
    body = orjson.dumps(
        {"destinations": [dict(d) for d in destinations]}, option=orjson.OPT_INDENT_2
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(body)
    return path


class Stack:
    """A Redis, emulators, workers and beat sharing one environment; a context manager.

    Redis: ``redis_url`` uses that server (the caller owns it); ``embedded_redis=True`` starts
    the embedded daemon in ``directory/redis`` and stops it with the stack; otherwise a private
    :class:`~devstack.redis.RedisProcess` is started (no persistence).

    The emulator: ``api_base_url`` points the processes at one the caller runs (e.g. an
    in-process :class:`emulator.EmulatorServer`); :meth:`start_emulator` starts one in its own
    process instead. Neither: the processes talk to the real TikTok.

    ``destinations`` (default :func:`devstack.credentials.default_destinations`; empty: no
    file) are written to ``destinations.json``. ``env`` overrides the environment the
    processes get, which is otherwise only what they need: ``PATH``, ``HOME``, the locale (see
    :data:`devstack.processes.INHERITED`) and the stack's own ``REDIS_URL``,
    ``MASIVO_TIKTOK_DESTINATIONS``, ``MASIVO_TIKTOK_DATA_DIR``, ``TIKTOK_API_BASE_URL``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        redis_url: str | None = None,
        embedded_redis: bool = False,
        api_base_url: str | None = None,
        destinations: Sequence[Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if redis_url is not None and embedded_redis:
            raise ValueError("give redis_url or embedded_redis, not both")
        self.directory = Path(directory).resolve()
        self.redis_url = redis_url or ""
        self.embedded_redis = embedded_redis
        self.api_base_url = api_base_url
        self.destinations = [
            dict(d) for d in (default_destinations() if destinations is None else destinations)
        ]
        self.destinations_file = self.directory / "destinations.json" if self.destinations else None
        self.data_dir = self.directory / "data"
        self.overrides = dict(env or {})
        #: the environment every process gets (set by :meth:`start`)
        self.env: dict[str, str] = {}
        #: the private Redis, when the stack runs one
        self.redis_server: RedisProcess | None = None
        #: every process to end on :meth:`stop_workers`, in start order; a caller may append
        #: processes it started itself
        self.procs: list[subprocess.Popen[bytes]] = []
        #: the Celery processes among them (workers and beat)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.emulators: list[EmulatorProcess] = []
        self.log_files: list[Path] = []
        self._redis: Redis | None = None
        self._started = False

    # -- the whole stack ------------------------------------------------------------------

    def start(self) -> Stack:
        """Redis, the destinations file and the environment; processes come with start_*()."""
        if self._started:
            return self
        self._started = True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.embedded_redis:
                from worker.embedded import ensure_embedded

                self.redis_url = ensure_embedded(self.directory / "redis")
            elif self.redis_server is not None or not self.redis_url:
                if self.redis_server is None:
                    self.redis_server = RedisProcess(self.directory / "redis", port=0)
                self.redis_url = self.redis_server.start().url
            self.env = inherited_env()
            self.env.update(
                PYTHONUNBUFFERED="1",
                REDIS_URL=self.redis_url,
                MASIVO_TIKTOK_DATA_DIR=str(self.data_dir),
            )
            if self.destinations_file is not None:
                write_destinations(self.destinations_file, self.destinations)
                self.env["MASIVO_TIKTOK_DESTINATIONS"] = str(self.destinations_file)
            if self.api_base_url:
                self.env["TIKTOK_API_BASE_URL"] = self.api_base_url
            self.env.update(self.overrides)
            self.data_dir = Path(self.env["MASIVO_TIKTOK_DATA_DIR"])
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._redis = connect(self.redis_url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace_s: float = 20.0) -> None:
        """End everything: processes (SIGTERM, then SIGKILL after ``grace_s``), emulators,
        then the Redis the stack started. Safe to call twice."""
        steps: list[Callable[[], None]] = [lambda: self.stop_workers(grace_s)]
        steps += [emulator.stop for emulator in reversed(self.emulators)]
        steps += [self._close_redis]
        errors: list[BaseException] = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # end the rest anyway
                errors.append(exc)
        self.emulators.clear()
        self._started = False
        if errors:
            raise errors[0]

    def _close_redis(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self.redis_server is not None:
            self.redis_server.stop()
        if self.embedded_redis and self.redis_url:
            from worker.embedded import stop_embedded

            stop_embedded(self.directory / "redis")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- processes ------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("Stack.start() first (or use it as a context manager)")

    def log_path(self, name: str) -> Path:
        """A new log file in the stack's folder: ``name.log``, then ``name-1.log``..."""
        path, n = self.directory / f"{name}.log", 0
        while path in self.log_files:
            n += 1
            path = self.directory / f"{name}-{n}.log"
        self.log_files.append(path)
        return path

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the stack's folder and environment (plus ``env``), logging to
        ``name.log``; :meth:`stop_workers` and :meth:`stop` end it."""
        self._require_started()
        proc = spawn(
            argv, log=self.log_path(name), env={**self.env, **(env or {})}, cwd=self.directory
        )
        self.procs.append(proc)
        return proc

    def start_worker(
        self,
        *,
        concurrency: int = 2,
        app: str = "worker",
        queues: str | None = None,
        pool: str | None = None,
        beat: bool = False,
        loglevel: str = "INFO",
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        name: str = "worker",
    ) -> subprocess.Popen[bytes]:
        """``celery -A app worker -c concurrency`` (``beat=True``: with beat inside, ``-B``).

        Started without mingle and gossip (nothing to learn from peers, faster start);
        ``args`` adds flags, e.g. ``["--without-heartbeat"]``.
        """
        argv = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            f"--loglevel={loglevel}",
            "-c", str(concurrency),
            "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        if queues:
            argv += ["-Q", queues]
        if pool:
            argv += ["--pool", pool]
        if beat:
            argv += ["-B", "-s", str(self.directory / "beat-schedule")]
        proc = self.spawn(name, [*argv, *args], env)
        self.workers.append(proc)
        return proc

    def start_beat(
        self,
        *,
        app: str = "worker",
        loglevel: str = "INFO",
        env: Mapping[str, str] | None = None,
        name: str = "beat",
    ) -> subprocess.Popen[bytes]:
        """``celery -A app beat`` with its schedule in the stack's folder."""
        argv = [
            sys.executable, "-m", "celery", "-A", app, "beat",
            f"--loglevel={loglevel}",
            "-s", str(self.directory / "beat-schedule"),
        ]  # fmt: skip
        proc = self.spawn(name, argv, env)
        self.workers.append(proc)
        return proc

    def start_emulator(self, name: str = "emulator", **options: Any) -> EmulatorProcess:
        """The emulator in its own process (``options``: see :class:`EmulatorProcess`).

        Processes started from now on send to it (``TIKTOK_API_BASE_URL``).
        """
        self._require_started()
        emulator = EmulatorProcess(
            self.log_path(name), env=self.env, cwd=self.directory, **options
        ).start()
        self.emulators.append(emulator)
        self.env["TIKTOK_API_BASE_URL"] = emulator.url
        return emulator

    def stop_workers(self, grace_s: float = 20.0) -> None:
        """End every process started by :meth:`spawn` (workers, beat) or added to ``procs``;
        the emulators and Redis keep running."""
        try:
            terminate(self.procs, grace_s)
        finally:
            self.procs.clear()
            self.workers.clear()

    # -- looking at it --------------------------------------------------------------------

    @property
    def redis(self) -> Redis:
        """A client of the stack's Redis (bytes responses)."""
        if self._redis is None:
            raise RuntimeError("the stack is not running")
        return self._redis

    def flushall(self) -> None:
        """Empty the stack's Redis (between benchmark runs)."""
        self.redis.flushall()

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``masivo-tiktok ARGS`` in the stack's environment and wait for it."""
        self._require_started()
        return subprocess.run(
            [str(BIN / "masivo-tiktok"), *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def logs(self) -> str:
        """Everything the stack's processes have logged so far."""
        return "".join(p.read_text(errors="replace") for p in self.log_files if p.exists())
