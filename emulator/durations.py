"""Duration syntax shared by the CLI flags and the fault spec.

Accepted: ``250ms``, ``30s``, ``5m``, ``2h``, ``7d``; a bare number uses the default unit.
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

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
