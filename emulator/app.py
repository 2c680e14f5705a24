"""The emulator as a raw ASGI application (no web framework).

Why raw ASGI on uvicorn: the surface is one POST endpoint plus a handful of inspection routes,
so a framework would add routing/validation layers per request and nothing we need; raw ASGI
keeps the hot path to "read body, ``orjson.loads``, hand-written checks", and uvicorn (already a
project dependency) is the reference ASGI server. It also lets the reset fault reach the real
socket (see ``_reset_connection``).

Routes: ``POST /open_api/v1.3/event/track/`` (the API; other methods -> 405) and the inspection
API under ``/_emulator/`` (see the package docstring). Anything else -> 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from emulator.config import EmulatorConfig
from emulator.faults import Fault, FaultInjector, parse_faults
from emulator.state import EmulatorState, JSONDict
from emulator.track import CODE_RATE_LIMITED, MSG_RATE_LIMITED, TrackResult, TrackService

__all__ = ["TRACK_PATH", "EmulatorApp"]

TRACK_PATH = "/open_api/v1.3/event/track/"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_BODY_503 = b'{"error":{"message":"Service Unavailable"}}'
_BODY_400 = (
    b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_BODY_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, status: int, payload: object) -> None:
    await _respond(send, status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), _JSON)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reset_connection(send: Send) -> None:
    """Drop the TCP connection with an RST and no response.

    ASGI has no "abort" message, and an app that returns without responding makes uvicorn send
    a 500. uvicorn's ``send`` is a bound method of its request/response cycle, which holds the
    asyncio transport: setting ``SO_LINGER`` to 0 then ``abort()`` makes the kernel send RST.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise RuntimeError("the reset fault needs uvicorn's h11/httptools protocol")
    if transport.is_closing():
        return  # the client is already gone
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let connection_lost run so uvicorn marks the cycle disconnected
        await asyncio.sleep(0)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class EmulatorApp:
    """ASGI callable holding the emulator's state, fault injector and track service."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.state = EmulatorState(
            config.events_capacity, config.refused_capacity, config.dedup_window_s
        )
        self.track = TrackService(config, self.state)
        self.faults = FaultInjector(config.faults, config.seed, config.clock())
        self.closing = False

    def reset(self) -> None:
        """Clear recorded state and buckets; re-apply the start-up fault spec from now."""
        self.state.reset()
        self.track.reset()
        self.faults.apply(self.config.faults, self.config.clock())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == TRACK_PATH:
            if method != "POST":
                await _respond(send, 405, b"Method Not Allowed", [(b"allow", b"POST")])
                return
            await self._track(scope, receive, send)
        elif path.startswith("/_emulator/"):
            await self._inspect(scope, receive, send, path.removeprefix("/_emulator/"), method)
        else:
            await _respond(send, 404, b"Not Found", [(b"content-type", b"text/plain")])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _track(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Arrival is stamped before anything is processed, and other requests that arrived
        # with this one get their stamps before it is validated: one process validating 500
        # events (~10 ms) must not make a request that arrived alongside look later to the
        # rate limit's sliding second than it was (TikTok's front door is not one thread).
        arrived = self.config.clock()
        raw = await _read_body(receive)
        if raw is None:
            return
        await asyncio.sleep(0)
        clock, state = self.config.clock, self.state
        state.count_request()
        decision = self.faults.decide(clock())
        if decision.latency_s > 0:
            state.record_fault("latency")
            await asyncio.sleep(decision.latency_s)
        fault = decision.fault
        if fault is not Fault.NONE:
            state.record_fault(fault.value)
        if fault is Fault.HANG and not await self._hang(decision.hang_s):
            fault = Fault.RESET  # shutting down: give up on the hung request
        if fault in (Fault.OUTAGE, Fault.HTTP_503):
            await _respond(send, 503, _BODY_503, _JSON)
        elif fault is Fault.HTTP_400:
            await _respond(send, 400, _BODY_400, [(b"content-type", b"text/html")])
        elif fault is Fault.HTTP_502:
            await _respond(send, 502, _BODY_502, [(b"content-type", b"text/html")])
        elif fault is Fault.HTTP_500:
            await _respond(send, 500, b"Internal Server Error", [(b"content-type", b"text/plain")])
        elif fault is Fault.RESET:
            await _reset_connection(send)
        elif fault is Fault.RATE_40100:
            await self._answer(
                send, self.track.refuse(CODE_RATE_LIMITED, MSG_RATE_LIMITED, clock())
            )
        else:
            token = _header(scope, b"access-token")
            result = self.track.handle(token, raw, arrived, decision.bad_sources)
            await self._answer(send, result)

    async def _answer(self, send: Send, result: TrackResult) -> None:
        headers = [*_JSON, (b"x-tt-logid", result.request_id.encode())]
        await _respond(send, 200, result.body(), headers)

    async def _hang(self, seconds: float) -> bool:
        """Stall for ``seconds``; False if the server started closing meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(remaining, 0.05))
        return False

    async def _inspect(
        self, scope: Scope, receive: Receive, send: Send, route: str, method: str
    ) -> None:
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        get_routes: dict[str, Callable[[dict[str, str]], object]] = {
            "summary": lambda q: self.state.summary(),
            "events": self._events_view,
            "refused": lambda q: self.state.refused(_int(q.get("limit"))),
            "rate": self._rate_view,
            "faults": lambda q: self._faults_view(),
            "health": lambda q: {"ok": True},
        }
        if route in get_routes and method == "GET":
            await _respond_json(send, 200, get_routes[route](query))
        elif route == "reset" and method == "POST":
            self.reset()
            await _respond_json(send, 200, {"ok": True})
        elif route == "faults" and method == "POST":
            await self._set_faults(receive, send)
        elif route in get_routes or route == "reset":
            await _respond(send, 405, b"Method Not Allowed", [])
        else:
            await _respond(send, 404, b"Not Found", [(b"content-type", b"text/plain")])

    def _events_view(self, query: dict[str, str]) -> JSONDict:
        events = self.state.events(
            pixel=query.get("pixel"),
            event=query.get("event"),
            test=query.get("test"),
            limit=_int(query.get("limit")) or 1000,
        )
        return {"count": len(events), "events": events}

    def _rate_view(self, query: dict[str, str]) -> JSONDict:
        rate = self.config.rate_limit
        pixels = self.state.rate(query.get("pixel"))
        return {
            "rate_limit": rate,
            "burst": rate if rate > 0 else None,  # events in any sliding 1 s window
            "pixels": {
                pixel: {"per_second": per_second, "max": max(per_second.values(), default=0)}
                for pixel, per_second in pixels.items()
            },
        }

    def _faults_view(self) -> JSONDict:
        return {"spec": self.faults.spec.to_text()}

    async def _set_faults(self, receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        try:
            payload = orjson.loads(raw or b"{}")
            spec = parse_faults(str(payload.get("spec", "")) if isinstance(payload, dict) else "")
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            await _respond_json(send, 400, {"error": str(exc)})
            return
        self.faults.apply(spec, self.config.clock())
        await _respond_json(send, 200, self._faults_view())


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
