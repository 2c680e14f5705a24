"""The three outcomes of transforming one Masivo event.

Every input, however malformed, ends as exactly one of these:

* :class:`Send` - one or more TikTok Events API 2.0 ``data[]`` objects, JSON-ready, and
  one :class:`~transforms.quality.Quality` per object (its match keys and warnings; never
  sent to TikTok);
* :class:`Drop` - a policy decision (``too_old``, ``feature_disabled``, ``not_fulfilled``,
  ``no_consent``), counted but not an error;
* :class:`Reject` - the event is invalid; ``reason`` is a short code, ``detail`` names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from transforms.quality import Quality

__all__ = ["Drop", "Outcome", "Reject", "Send"]


class Send(NamedTuple):
    """``events`` are exactly what TikTok receives; ``quality[i]`` describes ``events[i]``.

    A named tuple (immutable like the other outcomes, and the cheapest object to build: one
    is made for nearly every event)."""

    events: tuple[dict[str, Any], ...]
    quality: tuple[Quality, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": "send", "events": list(self.events)}
        quality = self.quality
        if len(quality) == 1:
            out["quality"] = [quality[0].as_json()]
        elif quality:
            out["quality"] = [q.as_json() for q in quality]
        return out


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": "drop", "reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"outcome": "reject", "reason": self.reason, "detail": self.detail}


Outcome = Send | Drop | Reject
