"""The TikTok emulator in a process of its own, and a client for its inspection API.

In its own process the emulator's GIL does not compete with the caller (a benchmark's
producer, the demo's progress loop). ``python -m devstack.emulator`` is that process: the
flags of ``masivo-tiktok emulator`` plus ``--credentials`` (JSON), ``--capacity`` and
``--ready FILE``, where it writes its URL once it listens (on any free port, ``--port 0``).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson

from devstack.credentials import emulator_credentials
from devstack.processes import inherited_env, spawn, terminate, wait_until

__all__ = ["EmulatorProcess"]

STARTUP_TIMEOUT_S = 30.0


class EmulatorProcess:
    """``python -m devstack.emulator`` as a child process; use as a context manager.

    ``credentials`` maps tokens to the pixel codes they may use: by default brand-a's and
    brand-b's (:func:`devstack.credentials.emulator_credentials`); ``{}`` accepts any token.
    ``rate_limit`` is events/s per pixel (0 = unlimited), ``capacity`` bounds the inspection
    log of events (counters stay exact), ``max_age_s``/``max_future_s`` bound event times
    (default: the emulator's), ``faults`` is a spec as for ``--faults`` (e.g. ``"503=0.1"``).
    """

    def __init__(
        self,
        log: Path,
        *,
        credentials: Mapping[str, frozenset[str]] | None = None,
        rate_limit: float = 1000.0,
        capacity: int = 100_000,
        max_age_s: float | None = None,
        max_future_s: float | None = None,
        faults: str = "",
        seed: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.log = Path(log)
        creds = emulator_credentials() if credentials is None else credentials
        self.argv = [
            sys.executable, "-m", "devstack.emulator",
            "--port", "0",
            "--rate-limit", str(rate_limit),
            "--capacity", str(capacity),
            "--credentials", json.dumps({t: sorted(p) for t, p in creds.items()}),
            "--ready", str(self.log.with_suffix(".url")),
        ]  # fmt: skip
        for flag, seconds in (("--max-age", max_age_s), ("--max-future", max_future_s)):
            if seconds is not None:
                self.argv += [flag, f"{seconds}s"]
        if faults:
            self.argv += ["--faults", faults]
        if seed is not None:
            self.argv += ["--seed", str(seed)]
        self.env = dict(inherited_env() if env is None else env)
        self.cwd = cwd or self.log.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._http: httpx.Client | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> EmulatorProcess:
        """Start the process and wait until it listens; ``.url`` is then its base URL."""
        if self.proc is not None:
            return self
        ready = self.log.with_suffix(".url")
        ready.unlink(missing_ok=True)
        self.proc = spawn(self.argv, log=self.log, env=self.env, cwd=self.cwd)
        proc = self.proc
        wait_until(lambda: ready.exists() or proc.poll() is not None, STARTUP_TIMEOUT_S)
        if not ready.exists():
            self.stop()
            raise RuntimeError(f"the emulator did not start (see {self.log})")
        self.url = ready.read_text(encoding="ascii").strip()
        self._http = httpx.Client(base_url=self.url, timeout=60)
        return self

    def stop(self) -> None:
        """SIGTERM (the emulator stops serving), SIGKILL if it has not exited in 10 s."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.proc is not None:
            terminate([self.proc], grace_s=10.0)
            self.proc = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # the inspection API ------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the emulator is not running")
        return self._http

    @property
    def track_url(self) -> str:
        from emulator import TRACK_PATH

        return self.url + TRACK_PATH

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(f"/_emulator/{path}", params=params)
        response.raise_for_status()
        return orjson.loads(response.content)

    def summary(self) -> dict[str, Any]:
        """``GET /_emulator/summary``."""
        found: dict[str, Any] = self._get("summary")
        return found

    def unique(self, pixel: str) -> int:
        """Unique events accepted for ``pixel`` in production (not test events)."""
        return int(self.summary()["by_pixel"].get(pixel, {}).get("unique", 0))

    def events(self, pixel: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The last ``limit`` production events of ``pixel``, oldest first."""
        found: list[dict[str, Any]] = self._get("events", pixel=pixel, limit=limit)["events"]
        return found

    def rate(self, pixel: str) -> dict[int, int]:
        """Events accepted for ``pixel`` per clock second."""
        found = self._get("rate", pixel=pixel)["pixels"].get(pixel, {})
        return {int(k): int(v) for k, v in found.get("per_second", {}).items()}

    def reset(self) -> None:
        """Clear state and rate buckets, re-apply the start-up faults."""
        self.http.post("/_emulator/reset").raise_for_status()

    def set_faults(self, spec: str) -> None:
        """Replace the fault spec (``""``: none)."""
        self.http.post("/_emulator/faults", json={"spec": spec}).raise_for_status()


# -- the child process ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; write the URL to ``--ready`` once listening."""
    from emulator import EmulatorConfig, EmulatorServer
    from emulator.cli import add_arguments

    parser = argparse.ArgumentParser(prog="python -m devstack.emulator", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--capacity", type=int, default=100_000, help="events kept for /events")
    parser.add_argument("--credentials", help='JSON {"token": ["PIXEL", ...]}; absent: any')
    parser.add_argument("--ready", type=Path, required=True, help="write the URL here")
    args = parser.parse_args(argv)
    raw = json.loads(args.credentials) if args.credentials else {}
    server = EmulatorServer(
        EmulatorConfig(
            credentials={token: frozenset(pixels) for token, pixels in raw.items()},
            rate_limit=args.rate_limit,
            max_age_s=args.max_age,
            max_future_s=args.max_future,
            faults=args.faults,
            seed=args.seed,
            host=args.host,
            port=args.port,
            events_capacity=args.capacity,
        )
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    url = server.start()
    partial = args.ready.with_name(args.ready.name + ".part")
    partial.write_text(url + "\n", encoding="ascii")
    partial.replace(args.ready)  # atomic: the parent never reads half a URL
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop(timeout=3)
        args.ready.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
