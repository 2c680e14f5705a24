"""In-process record of what the emulator accepted, refused and injected (thread-safe).

The ASGI app mutates it on the event-loop thread while tests read it from theirs, so every
public method takes one lock -- once per request, never per event. Counters are exact and
unbounded; the event and refusal logs are bounded deques (oldest dropped first).

Deduplication bookkeeping follows TikTok's rule (pixel + ``event`` + ``event_id``, within 48 h
of the first occurrence): every event of an accepted request counts as *accepted*; the first
occurrence in the window is *unique*, later ones are *duplicates*. So "no loss, duplicates
harmless" reads as ``unique == events sent`` whatever ``duplicates`` is. Test events (requests
carrying ``test_event_code``) are kept apart: own counters, own dedup space, hidden from the
production event log unless asked for.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["EmulatorState", "JSONDict"]

JSONDict = dict[str, Any]
_PROD = ""


@dataclass
class _Tally:
    events: int = 0
    unique: int = 0
    duplicates: int = 0
    by_event: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> JSONDict:
        return {
            "events": self.events,
            "unique": self.unique,
            "duplicates": self.duplicates,
            "by_event": dict(self.by_event),
        }


# One accepted request: (pixel, test_event_code or "", request_id, received_at, raw body,
# one duplicate flag byte per event). The raw body is kept instead of the parsed events because
# bytes are invisible to the garbage collector: retaining 100k parsed events (millions of dicts)
# made cyclic GC passes the emulator's main cost. The log parses bodies back on inspection.
_LoggedRequest = tuple[str, str, str, float, bytes, bytes]


class EmulatorState:
    """Counters, bounded logs, dedup keys and the per-second acceptance histogram."""

    def __init__(self, events_capacity: int, refused_capacity: int, dedup_window_s: float) -> None:
        self._lock = threading.Lock()
        self._events_capacity = events_capacity
        self._refused_capacity = refused_capacity
        self._dedup_window_s = dedup_window_s
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._requests = 0
            self._accepted_requests = 0
            self._tallies: dict[tuple[str, str], _Tally] = {}
            self._seen: dict[str, float] = {}  # str keys keep the dict GC-untracked
            self._log: deque[_LoggedRequest] = deque()
            self._logged_events = 0
            self._refused: deque[JSONDict] = deque(maxlen=self._refused_capacity)
            self._refused_by_code: Counter[int] = Counter()
            self._refused_events = 0
            self._faults: Counter[str] = Counter()
            self._per_second: defaultdict[str, Counter[int]] = defaultdict(Counter)

    def count_request(self) -> None:
        """Count one track request, whatever becomes of it."""
        with self._lock:
            self._requests += 1

    def record_fault(self, kind: str) -> None:
        """Count one injected fault (``500``, ``reset``, ``latency``...)."""
        with self._lock:
            self._faults[kind] += 1

    def record_accepted(
        self,
        pixel: str,
        test_code: str | None,
        events: list[dict[str, Any]],
        raw: bytes,
        request_id: str,
        now: float,
    ) -> None:
        """Record a code-0 request: dedup each event, tally it, log it, add it to the histogram.

        ``raw`` is the request body ``events`` were parsed from (kept for the event log).
        """
        mode = test_code or _PROD
        window_start = now - self._dedup_window_s
        with self._lock:
            self._accepted_requests += 1
            tally = self._tallies.get((mode, pixel))
            if tally is None:
                tally = self._tallies[(mode, pixel)] = _Tally()
            seen, by_event = self._seen, tally.by_event
            flags = bytearray(len(events))
            prefix = f"{mode}\0{pixel}\0"
            names: list[str] = []
            for pos, event in enumerate(events):
                name = event["event"]
                key = f"{prefix}{name}\0{event['event_id']}"
                first = seen.get(key)
                if first is not None and first >= window_start:
                    flags[pos] = 1
                else:
                    seen[key] = now
                    names.append(name)
            by_event.update(names)
            unique = len(names)
            self._append_log((pixel, mode, request_id, now, raw, bytes(flags)))
            tally.events += len(events)
            tally.unique += unique
            tally.duplicates += len(events) - unique
            self._per_second[pixel][int(now)] += len(events)

    def _append_log(self, item: _LoggedRequest) -> None:
        """Append, then drop the oldest requests beyond the event capacity (lock held)."""
        self._log.append(item)
        self._logged_events += len(item[5])
        while self._logged_events > self._events_capacity and len(self._log) > 1:
            self._logged_events -= len(self._log.popleft()[5])

    def record_refused(
        self, code: int, message: str, request_id: str, pixel: str | None, events: int, now: float
    ) -> None:
        """Record an API-level refusal (40001, 40002, 40100, 40105)."""
        with self._lock:
            self._refused_by_code[code] += 1
            self._refused_events += events
            self._refused.append(
                {
                    "code": code,
                    "message": message,
                    "request_id": request_id,
                    "pixel": pixel,
                    "events": events,
                    "at": now,
                }
            )

    def summary(self) -> JSONDict:
        """Totals; see the package docstring for the shape."""
        with self._lock:
            prod = {pixel: t for (mode, pixel), t in self._tallies.items() if mode == _PROD}
            tests: dict[str, _Tally] = {}
            for (mode, _pixel), t in self._tallies.items():
                if mode != _PROD:
                    _merge(tests.setdefault(mode, _Tally()), t)
            total = _Tally()
            for t in prod.values():
                _merge(total, t)
            return {
                "requests": self._requests,
                "accepted_requests": self._accepted_requests,
                "accepted": {k: v for k, v in total.as_dict().items() if k != "by_event"},
                "by_pixel": {pixel: t.as_dict() for pixel, t in sorted(prod.items())},
                "by_event": dict(total.by_event),
                "refused": {
                    "requests": sum(self._refused_by_code.values()),
                    "events": self._refused_events,
                    "by_code": {str(c): n for c, n in sorted(self._refused_by_code.items())},
                },
                "test_events": {code: t.as_dict() for code, t in sorted(tests.items())},
                "faults": dict(self._faults),
            }

    def events(
        self,
        pixel: str | None = None,
        event: str | None = None,
        test: str | None = None,
        limit: int | None = None,
    ) -> list[JSONDict]:
        """Logged accepted events, oldest first; the last ``limit`` that match.

        ``test=None`` selects production events, ``"*"`` every test event, else one test code.
        """
        with self._lock:
            logged = list(self._log)
        out: list[JSONDict] = []
        for item in reversed(logged):
            if limit is not None and len(out) >= limit:
                break
            if not _request_matches(item, pixel, test):
                continue
            data = orjson.loads(item[4])["data"]
            for pos in range(len(data) - 1, -1, -1):
                if limit is not None and len(out) >= limit:
                    break
                if event is None or data[pos]["event"] == event:
                    out.append(_event_view(item, data[pos], bool(item[5][pos])))
        out.reverse()
        return out

    def refused(self, limit: int | None = None) -> list[JSONDict]:
        """The last ``limit`` refusals, oldest first."""
        with self._lock:
            items = list(self._refused)
        return items[-limit:] if limit else items

    def rate(self, pixel: str | None = None) -> dict[str, dict[int, int]]:
        """Events accepted per wall-clock second (``int(clock())``), per pixel."""
        with self._lock:
            return {
                p: dict(sorted(per_second.items()))
                for p, per_second in self._per_second.items()
                if pixel is None or p == pixel
            }


def _merge(into: _Tally, other: _Tally) -> None:
    into.events += other.events
    into.unique += other.unique
    into.duplicates += other.duplicates
    into.by_event.update(other.by_event)


def _request_matches(item: _LoggedRequest, pixel: str | None, test: str | None) -> bool:
    item_pixel, mode = item[0], item[1]
    if pixel is not None and item_pixel != pixel:
        return False
    if test is None:
        return mode == _PROD
    return mode != _PROD if test == "*" else mode == test


def _event_view(item: _LoggedRequest, payload: dict[str, Any], duplicate: bool) -> JSONDict:
    pixel, mode, request_id, received_at = item[:4]
    return {
        "pixel": pixel,
        "event": payload["event"],
        "event_id": payload["event_id"],
        "event_time": payload["event_time"],
        "test_event_code": mode or None,
        "duplicate": duplicate,
        "request_id": request_id,
        "received_at": received_at,
        "payload": payload,
    }
