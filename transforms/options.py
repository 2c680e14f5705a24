"""What a transform needs to know about its destination.

This is the pure, secret-free view of a destination: no token, no pixel code, no URL. The
runtime (``worker.settings``) builds one per destination; tests build them with keyword
arguments. Keeping it here lets ``transforms`` import nothing of ours from outside itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_MAX_EVENT_AGE_S", "Features", "TransformOptions"]

#: TikTok refuses events older than seven days (the product spec's "Limitations").
DEFAULT_MAX_EVENT_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Features:
    """The destination's switches; every outgoing event belongs to exactly one of them."""

    events: bool = True
    conversions: bool = True
    purchases: bool = True
    audiences: bool = True
    customer_tags: bool = True


@dataclass(frozen=True, slots=True)
class TransformOptions:
    """Per-destination knobs of the mapping.

    ``destination_id`` seeds the fallback ``event_id`` hash so two brands never collide.
    ``max_future_skew_s`` bounds how far ahead of ``now`` an ``issued_at`` may be before the
    event is rejected as a clock error.
    """

    destination_id: str = "default"
    default_currency: str | None = None
    phone_region: str | None = None
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    max_future_skew_s: int = 300
    audience_chunk_size: int = 500
    features: Features = field(default_factory=Features)
