"""Fault injection: a small spec language and a seeded, thread-safe decision per request.

Spec syntax (comma-separated, any order, empty string = no faults)::

    400=0.1          share answered HTTP 400 with nginx's HTML "Bad Request" page (no TikTok
                     code: what a proxy or a wrong API host answers)
    500=0.1          share of requests answered HTTP 500 (plain text)
    502=0.05         share answered HTTP 502 with nginx's HTML "Bad Gateway" page
    503=0.05         share answered HTTP 503 {"error":{"message":"Service Unavailable"}}
    40100=0.1        share answered HTTP 200 code 40100 regardless of the rate-limit bucket
    reset=0.02       share whose TCP connection is reset (RST, no response at all)
    hang=0.01:30s    share that stall 30 s (default 30s) before being processed normally --
                     a client with a shorter timeout gives up, yet the events may still be
                     accepted, exactly the ambiguity a real timeout leaves (retries then show
                     up as harmless duplicates)
    latency=50ms     delay added to every track request
    outage=10s@5s    every track request answers 503 for 10 s, starting 5 s after the spec is
                     applied (at start-up for ``--faults``, at the POST for runtime changes);
                     ``outage=10s`` starts immediately; may be repeated
    bad_source=PIXEL every valid-looking request for pixel PIXEL (right token) answers 40002
                     "Invalid value for event_source_id" -- a pixel TikTok does not know, a
                     configuration error no event can cure; may be repeated

Shares (``400`` ... ``hang``) are exclusive: one uniform draw per request picks at most one
fault, so they must sum to <= 1. The draw comes from ``random.Random(seed)``, re-seeded whenever
a spec is applied, so the same seed, spec and request order give the same faults. Inspection
endpoints never fail.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum

from emulator.durations import parse_duration

__all__ = ["Fault", "FaultDecision", "FaultInjector", "FaultSpec", "Outage", "parse_faults"]


class Fault(StrEnum):
    """What happens to one track request instead of normal processing."""

    NONE = "none"
    HTTP_400 = "400"
    HTTP_500 = "500"
    HTTP_502 = "502"
    HTTP_503 = "503"
    RATE_40100 = "40100"
    RESET = "reset"
    HANG = "hang"
    OUTAGE = "outage"


@dataclass(frozen=True)
class Outage:
    """A window of total failure: ``start_s`` after the spec is applied, lasting ``duration_s``."""

    duration_s: float
    start_s: float = 0.0


@dataclass(frozen=True)
class FaultSpec:
    """Parsed fault settings; see the module docstring for the text form."""

    http_400: float = 0.0
    http_500: float = 0.0
    http_502: float = 0.0
    http_503: float = 0.0
    rate_40100: float = 0.0
    reset: float = 0.0
    hang: float = 0.0
    hang_s: float = 30.0
    latency_s: float = 0.0
    outages: tuple[Outage, ...] = field(default=())
    bad_sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        shares = self.shares()
        if any(not 0.0 <= share <= 1.0 for _, share in shares):
            raise ValueError("fault shares must be between 0 and 1")
        if sum(share for _, share in shares) > 1.0 + 1e-9:
            raise ValueError("fault shares must sum to at most 1")

    def shares(self) -> tuple[tuple[Fault, float], ...]:
        """The exclusive per-request shares, in the fixed order the draw walks them."""
        return (
            (Fault.RESET, self.reset),
            (Fault.HANG, self.hang),
            (Fault.HTTP_500, self.http_500),
            (Fault.HTTP_502, self.http_502),
            (Fault.HTTP_503, self.http_503),
            (Fault.RATE_40100, self.rate_40100),
            (Fault.HTTP_400, self.http_400),
        )

    def to_text(self) -> str:
        """Canonical text form (round-trips through ``parse_faults``)."""
        parts = [f"{fault.value}={share:g}" for fault, share in self.shares() if share]
        parts = [f"{p}:{self.hang_s:g}s" if p.startswith("hang=") else p for p in parts]
        if self.latency_s:
            parts.append(f"latency={self.latency_s * 1000:g}ms")
        parts += [f"outage={o.duration_s:g}s@{o.start_s:g}s" for o in self.outages]
        parts += [f"bad_source={pixel}" for pixel in self.bad_sources]
        return ",".join(parts)


_SHARE_KEYS = {
    "400": "http_400",
    "500": "http_500",
    "502": "http_502",
    "503": "http_503",
    "40100": "rate_40100",
}


def parse_faults(text: str) -> FaultSpec:
    """Parse the ``--faults`` syntax; raises ``ValueError`` naming the bad item."""
    values: dict[str, float] = {}
    outages: list[Outage] = []
    bad_sources: list[str] = []
    for raw in filter(None, (item.strip() for item in text.split(","))):
        key, sep, value = raw.partition("=")
        if not sep:
            raise ValueError(f"fault {raw!r}: expected key=value")
        try:
            if key.strip() == "bad_source":
                bad_sources.append(_pixel(value.strip()))
            else:
                _parse_item(key.strip(), value.strip(), values, outages)
        except ValueError as exc:
            raise ValueError(f"fault {raw!r}: {exc}") from None
    return FaultSpec(**values, outages=tuple(outages), bad_sources=tuple(bad_sources))


def _pixel(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError("expected a pixel code")
    return value


def _parse_item(key: str, value: str, values: dict[str, float], outages: list[Outage]) -> None:
    if key in _SHARE_KEYS:
        values[_SHARE_KEYS[key]] = float(value)
    elif key == "reset":
        values["reset"] = float(value)
    elif key == "hang":
        share, _, duration = value.partition(":")
        values["hang"] = float(share)
        if duration:
            values["hang_s"] = parse_duration(duration)
    elif key == "latency":
        values["latency_s"] = parse_duration(value, default_unit="ms")
    elif key == "outage":
        duration, _, start = value.partition("@")
        outages.append(Outage(parse_duration(duration), parse_duration(start) if start else 0.0))
    else:
        raise ValueError(
            f"unknown fault {key!r} "
            "(400, 500, 502, 503, 40100, reset, hang, latency, outage, bad_source)"
        )


@dataclass(frozen=True)
class FaultDecision:
    """The verdict for one request: a fault kind plus the delays to apply, and the pixels
    whose requests the track service refuses as unknown (``bad_source``)."""

    fault: Fault
    latency_s: float = 0.0
    hang_s: float = 0.0
    bad_sources: frozenset[str] = frozenset()


class FaultInjector:
    """Thread-safe holder of the current spec; ``decide`` is called once per track request."""

    def __init__(self, spec: FaultSpec, seed: int | None, now: float) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._spec = spec
        self._anchor = now
        self._rng = random.Random(seed)

    @property
    def spec(self) -> FaultSpec:
        """The spec currently applied."""
        return self._spec

    def apply(self, spec: FaultSpec, now: float) -> None:
        """Replace the spec, re-anchor outage windows at ``now`` and re-seed the draw."""
        with self._lock:
            self._spec = spec
            self._anchor = now
            self._rng = random.Random(self._seed)

    def decide(self, now: float) -> FaultDecision:
        """One uniform draw per request (always drawn, so outages don't shift the sequence)."""
        with self._lock:
            spec = self._spec
            draw = self._rng.random()
            elapsed = now - self._anchor
        if any(o.start_s <= elapsed < o.start_s + o.duration_s for o in spec.outages):
            return FaultDecision(Fault.OUTAGE, spec.latency_s)
        threshold = 0.0
        for fault, share in spec.shares():
            threshold += share
            if draw < threshold:
                return FaultDecision(fault, spec.latency_s, spec.hang_s)
        return FaultDecision(Fault.NONE, spec.latency_s, bad_sources=frozenset(spec.bad_sources))
