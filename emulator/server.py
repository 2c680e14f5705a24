"""Run the emulator app on uvicorn in a background thread, with Python-level inspection.

Why a thread rather than a subprocess: tests and the CLI share one process with the state, so
``server.summary()`` reads the very objects the app mutates (under a lock) and an injected
clock is the one the app uses. Listening socket is bound before the thread starts, so
``start()`` returns a usable URL even with ``port=0`` (a free port).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

import uvicorn

from emulator.app import TRACK_PATH, EmulatorApp
from emulator.config import EmulatorConfig
from emulator.faults import FaultSpec, parse_faults
from emulator.state import JSONDict

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """A running emulator; ``with EmulatorServer(config) as server:`` then post to ``track_url``.

    ``start()`` returns the base URL (``http://127.0.0.1:PORT``); ``stop()`` shuts down
    gracefully (hung requests are dropped). Inspection helpers mirror ``/_emulator/*``.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.app = EmulatorApp(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def track_url(self) -> str:
        """Full URL of ``/open_api/v1.3/event/track/``."""
        return self.url + TRACK_PATH

    def start(self, timeout: float = 10.0) -> str:
        """Bind, serve in a daemon thread, wait until ready and return the base URL."""
        if self._thread is not None:
            return self.url
        sock = _bind(self.config.host, self.config.port)
        uv_config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            http="h11",
            loop="asyncio",
            ws="none",
            timeout_graceful_shutdown=2,
            proxy_headers=False,
            server_header=False,
        )
        server = uvicorn.Server(uv_config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tiktok-emulator", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("TikTok emulator failed to start")
            time.sleep(0.005)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit, release hung requests and join the thread."""
        self.app.closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None
        self.app.closing = False

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Python-level inspection (same data as the HTTP endpoints) -------------------------------

    def summary(self) -> JSONDict:
        """Same as ``GET /_emulator/summary``."""
        return self.app.state.summary()

    def events(
        self,
        pixel: str | None = None,
        event: str | None = None,
        test: str | None = None,
        limit: int | None = None,
    ) -> list[JSONDict]:
        """Same as ``GET /_emulator/events`` (``test``: None = production, ``*`` = all tests)."""
        return self.app.state.events(pixel=pixel, event=event, test=test, limit=limit)

    def refused(self, limit: int | None = None) -> list[JSONDict]:
        """Same as ``GET /_emulator/refused``."""
        return self.app.state.refused(limit)

    def rate(self, pixel: str | None = None) -> dict[str, dict[int, int]]:
        """Events accepted per wall-clock second, per pixel."""
        return self.app.state.rate(pixel)

    def reset(self) -> None:
        """Same as ``POST /_emulator/reset``."""
        self.app.reset()

    def set_faults(self, spec: FaultSpec | str) -> None:
        """Same as ``POST /_emulator/faults``; outage offsets count from now."""
        parsed = parse_faults(spec) if isinstance(spec, str) else spec
        self.app.faults.apply(parsed, self.config.clock())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets; without it every response
    # (headers and body are two writes) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        with contextlib.suppress(OSError):
            sock.close()
        raise
    return sock
