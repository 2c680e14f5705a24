"""Emulator configuration.

One frozen object built once (from CLI flags or by a test) and passed down; no module reads the
environment. The clock is injectable so tests drive the rate limiter, the max-age rule, the
48-hour dedup window and outage windows without sleeping on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from emulator.faults import FaultSpec

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "EmulatorConfig",
]

DEFAULT_MAX_AGE_S = 7 * 86_400


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour.

    ``credentials`` maps access token -> pixel codes it may use; ``None`` or empty accepts any
    non-empty token for any pixel. ``rate_limit`` is events per pixel in any sliding one-second
    window (0 = unlimited; ``emulator.ratelimit``): a bigger request never fits. ``max_age_s`` refuses
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
