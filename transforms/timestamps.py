"""``issued_at`` → TikTok's ``event_time`` (integer Unix seconds, UTC), and the age rules.

Accepted forms:

* ISO-8601 strings with any offset or ``Z``; a naive time means UTC (Masivo stores UTC);
* numbers (int or float) and digit strings (``"1732449600"``, ``"1732449600123"``,
  ``"1732449600.5"``) as Unix time. Seconds or milliseconds is decided by magnitude:
  values ``>= 10**11`` are milliseconds. 10**11 seconds is the year 5138, while 10**11
  milliseconds is March 1973 - no real event is ambiguous.

Fractions are floored, as TikTok's peers do (``floor(ms / 1000)``). Booleans, negative or
zero times, non-finite numbers and anything else are ``invalid_timestamp``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from transforms.options import TransformOptions
from transforms.reasons import InvalidEventError, RejectReason

__all__ = ["MS_THRESHOLD", "event_time_from", "is_in_future", "is_too_old", "parse_issued_at"]

#: Unix values at or above this are milliseconds (see module docstring).
MS_THRESHOLD: Final = 10**11

_NUMERIC: Final = re.compile(r"\d{1,20}(?:\.\d{1,9})?")


#: Later than this (in ms, year ~33658) is garbage, and guards float conversion of huge ints.
_MAX_UNIX: Final = 10**15


def _from_number(value: float) -> int | None:
    if not 0 < value < _MAX_UNIX:  # also rejects NaN; inf and huge ints fail the bound
        return None
    seconds = value / 1000 if value >= MS_THRESHOLD else value
    return math.floor(seconds)


def _from_iso(text: str) -> int | None:
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return _from_number(seconds)


def parse_issued_at(value: object) -> int | None:
    """Unix seconds for a supported ``issued_at`` value, ``None`` when it cannot be read."""
    if type(value) is str:  # the usual case first
        return _from_text(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_number(value)
    if not isinstance(value, str):
        return None
    return _from_text(value)


@lru_cache(maxsize=4096)
def _from_text(value: str) -> int | None:
    # cached: a chunk's events carry a few distinct times (one per second, per millisecond at
    # most), and parsing one costs ~20 times a hit
    text = value.strip()
    if "-" not in text and _NUMERIC.fullmatch(text):  # ISO dates have "-": skip the regex
        return _from_number(float(text))
    return _from_iso(text)


def event_time_from(raw: dict[str, object], now: float) -> int:
    """``event_time`` of an event: its ``issued_at``, or ``now`` (receive time) when absent.

    Raises :class:`InvalidEventError` (``invalid_timestamp``) when ``issued_at`` is present but
    unreadable; ``null`` counts as absent.
    """
    value = raw.get("issued_at")
    if value is None:
        return math.floor(now)
    seconds = parse_issued_at(value)
    if seconds is None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidEventError(RejectReason.INVALID_TIMESTAMP, f"issued_at: cannot read {shown}")
    return seconds


def is_too_old(event_time: int, options: TransformOptions, now: float) -> bool:
    """The age rule: older than ``options.max_event_age_s`` (7 days by default) is not sent.

    The runtime calls this again right before each send, so an event that waited in a retry
    queue past the limit is dropped then too. One function, one rule.
    """
    return event_time < now - options.max_event_age_s


def is_in_future(event_time: int, options: TransformOptions, now: float) -> bool:
    """More than ``options.max_future_skew_s`` ahead of ``now``: a clock error upstream."""
    return event_time > now + options.max_future_skew_s
