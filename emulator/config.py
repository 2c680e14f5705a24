"""Emulator configuration and the duration syntax shared by the CLI and fault specs.

One frozen object built once (from CLI flags or by a test) and passed down; no module reads the
environment. The clock is injectable so tests drive the rate limiter, the max-age rule, the
48-hour dedup window and outage windows without sleeping on the wall clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from emulator.faults import FaultSpec

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "EmulatorConfig",
    "format_duration",
    "parse_duration",
]

DEFAULT_MAX_AGE_S = 7 * 86_400
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def parse_duration(text: str, default_unit: str = "s") -> float:
    """Parse ``250ms``, ``30s``, ``5m``, ``2h``, ``7d`` (bare numbers use ``default_unit``).

    Raises ``ValueError`` with the offending text so CLI errors are readable.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (use e.g. 250ms, 30s, 5m, 2h, 7d)")
    return float(match.group(1)) * _UNIT_S[match.group(2) or default_unit]


def format_duration(seconds: float) -> str:
    """Human wording used in refusal messages, e.g. ``7 days``, ``2 hours``, ``90 seconds``."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        return f"{seconds:g} seconds"
    for unit_s, name in ((86_400, "day"), (3600, "hour"), (60, "minute")):
        if whole % unit_s == 0:
            count = whole // unit_s
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{whole} second{'s' if whole != 1 else ''}"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour.

    ``credentials`` maps access token -> pixel codes it may use; ``None`` or empty accepts any
    non-empty token for any pixel. ``rate_limit`` is events/s per pixel (0 = unlimited); the
    bucket holds ``max(rate_limit, 1000)`` so one full batch always fits. ``max_age_s`` refuses
    events older than that (0 = no limit); ``max_future_s`` refuses events further ahead.
    ``events_capacity``/``refused_capacity`` bound the inspection logs (counters are exact).
    """

    credentials: Mapping[str, frozenset[str]] | None = None
    rate_limit: float = 1000.0
    max_age_s: float = DEFAULT_MAX_AGE_S
    max_future_s: float = 600.0
    faults: FaultSpec = field(default_factory=FaultSpec)
    seed: int | None = None
    clock: Callable[[], float] = time.time
    host: str = "127.0.0.1"
    port: int = 0
    events_capacity: int = 100_000
    refused_capacity: int = 10_000
    dedup_window_s: float = 48 * 3600.0
