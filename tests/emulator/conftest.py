"""Fixtures for the emulator tests: servers on free ports, an injectable clock, payload builders.

Every test talks to a real server over real sockets with httpx; the clock is fake so rate
limits, max age and outage windows are driven without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from emulator import EmulatorConfig, EmulatorServer

HASH = "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f"
PIXEL = "D17TA5JC77UDOT6CA5FG"
OTHER_PIXEL = "CHT3MJJC77U0O25ESA0G"
TOKEN = "token-ok"
CREDENTIALS = {TOKEN: frozenset({PIXEL}), "token-other": frozenset({OTHER_PIXEL})}


class FakeClock:
    """A settable clock starting at the real time (so 'now' events are realistic)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_event(index: int, now: float, **overrides: Any) -> dict[str, Any]:
    """A valid web Purchase event; ``overrides`` replace top-level keys."""
    event: dict[str, Any] = {
        "event": "Purchase",
        "event_time": int(now),
        "event_id": f"order_{index}",
        "user": {"email": [HASH], "phone": HASH, "external_id": [HASH], "ip": "203.0.113.7"},
        "page": {"url": "https://shop.example.com/thanks", "referrer": "https://shop.example.com/"},
        "properties": {
            "currency": "USD",
            "value": 59.98,
            "contents": [{"content_id": "SKU-1", "price": 29.99, "quantity": 2}],
            "content_ids": ["SKU-1"],
            "order_id": str(index),
        },
        "limited_data_use": False,
    }
    event.update(overrides)
    return event


def make_body(events: list[dict[str, Any]], pixel: str = PIXEL, **top: Any) -> dict[str, Any]:
    """A 2.0 request body around ``events``."""
    return {"event_source": "web", "event_source_id": pixel, "data": events, **top}


@pytest.fixture(scope="session")
def session_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clock(session_clock: FakeClock) -> FakeClock:
    """The fake clock, set back to the real time for each test."""
    session_clock.now = float(int(time.time()))
    return session_clock


ServerFactory = Callable[..., EmulatorServer]


@pytest.fixture
def make_server(clock: FakeClock) -> Iterator[ServerFactory]:
    """Start servers with ``EmulatorConfig(**kwargs)`` (fake clock, test credentials)."""
    started: list[EmulatorServer] = []

    def factory(**kwargs: Any) -> EmulatorServer:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("credentials", CREDENTIALS)
        server = EmulatorServer(EmulatorConfig(**kwargs))
        server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def shared_server(session_clock: FakeClock) -> Iterator[EmulatorServer]:
    """One default server for the whole session (starting one costs ~0.25 s)."""
    with EmulatorServer(EmulatorConfig(clock=session_clock, credentials=CREDENTIALS)) as server:
        yield server


@pytest.fixture
def server(shared_server: EmulatorServer, clock: FakeClock) -> EmulatorServer:
    """The shared default server, reset (state, buckets, faults) for this test."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


class Api:
    """Posts to the track endpoint of one server."""

    def __init__(self, http: httpx.Client, server: EmulatorServer, clock: FakeClock) -> None:
        self.http, self.server, self.clock = http, server, clock

    def post(
        self,
        body: Any,
        token: str | None = TOKEN,
        raw: bytes | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        headers = {"Access-Token": token} if token is not None else {}
        content = raw if raw is not None else orjson.dumps(body)
        return self.http.post(
            self.server.track_url,
            content=content,
            headers=headers,
            timeout=timeout if timeout is not None else self.http.timeout,
        )

    def send(
        self, count: int = 1, start: int = 0, timeout: float | None = None, **top: Any
    ) -> dict[str, Any]:
        """Post ``count`` valid events (``top``: extra body keys); return the JSON answer."""
        events = [make_event(start + i, self.clock.now) for i in range(count)]
        response = self.post(make_body(events, **top), timeout=timeout)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    def get(self, route: str, **params: Any) -> Any:
        response = self.http.get(f"{self.server.url}/_emulator/{route}", params=params)
        assert response.status_code == 200
        return response.json()


@pytest.fixture
def api(client: httpx.Client, server: EmulatorServer, clock: FakeClock) -> Api:
    return Api(client, server, clock)
