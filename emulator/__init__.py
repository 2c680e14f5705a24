"""A faithful local emulator of TikTok's Events API 2.0 (``/open_api/v1.3/event/track/``).

For tests, demos, benchmarks and users' development. Start it in-process::

    from emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(credentials={"tok": frozenset({"PIXEL"})})) as server:
        httpx.post(server.track_url, headers={"Access-Token": "tok"}, json=body)
        assert server.summary()["accepted"]["unique"] == 1

or from the shell: ``masivo-tiktok emulator --port 8081 --faults 503=0.05`` (or
``python -m emulator``).

API behaviour (HTTP 200 + JSON ``{code, message, request_id, data: {}}``): 0 OK, 40105 missing
or unknown ``Access-Token``, 40001 token not allowed on the pixel, 40002 invalid request (the
message names the path, e.g. ``data.3.event_id: Not a valid string.``; the whole request is
rejected), 40100 per-pixel rate limit (at most ``rate_limit`` events accepted in any sliding
one-second window: ``emulator.ratelimit``). Non-track paths 404, wrong method 405. Faults: see
``emulator.faults``.

Inspection API (never subject to faults):

- ``GET /_emulator/summary`` -> ``{requests, accepted_requests,
  accepted: {events, unique, duplicates}, by_pixel: {PIXEL: {events, unique, duplicates,
  by_event: {NAME: unique}}}, by_event: {NAME: unique}, refused: {requests, events,
  by_code: {"40002": n}}, test_events: {CODE: {events, unique, duplicates, by_event}},
  faults: {"400"|"500"|"502"|"503"|"40100"|"reset"|"hang"|"outage"|"latency"|"bad_source":
  n}}``
  (production only outside ``test_events``; ``events`` counts duplicates, ``unique`` does not).
- ``GET /_emulator/events?pixel=&event=&test=&limit=`` -> ``{count, events: [{pixel, event,
  event_id, event_time, test_event_code, duplicate, request_id, received_at, payload}]}``,
  oldest first, the last ``limit`` (default 1000) matches; ``test`` absent = production,
  ``test=*`` = every test event, ``test=CODE`` = that code.
- ``GET /_emulator/refused?limit=`` -> ``[{code, message, request_id, pixel, events, at}]``.
- ``GET /_emulator/rate?pixel=`` -> ``{rate_limit, burst, pixels: {PIXEL: {per_second:
  {"<unix second>": n}, max}}}`` -- events accepted per clock second (incl. test events);
  ``burst`` = ``rate_limit``, the most accepted in any sliding second.
- ``GET /_emulator/faults`` / ``POST /_emulator/faults {"spec": "503=0.5"}`` -> ``{spec}``
  (replaces the spec; outage offsets count from the POST; bad spec -> HTTP 400 ``{error}``).
- ``POST /_emulator/reset`` -> ``{ok: true}``: clears state and buckets, re-applies start-up faults.
- ``GET /_emulator/health`` -> ``{ok: true}``.
"""

from __future__ import annotations

from emulator.app import TRACK_PATH, EmulatorApp
from emulator.config import EmulatorConfig
from emulator.faults import Fault, FaultSpec, Outage, parse_faults
from emulator.server import EmulatorServer

__all__ = [
    "TRACK_PATH",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "Fault",
    "FaultSpec",
    "Outage",
    "parse_faults",
]
