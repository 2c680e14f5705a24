"""The three outcomes of transforming one Masivo event.

Every input, however malformed, ends as exactly one of these:

* :class:`Send` - one or more TikTok Events API 2.0 ``data[]`` objects, JSON-ready;
* :class:`Drop` - a policy decision (``too_old``, ``feature_disabled``, ``not_fulfilled``,
  ``no_consent``), counted but not an error;
* :class:`Reject` - the event is invalid; ``reason`` is a short code, ``detail`` names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Drop", "Outcome", "Reject", "Send"]


@dataclass(frozen=True, slots=True)
class Send:
    events: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        return {"outcome": "send", "events": list(self.events)}


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
