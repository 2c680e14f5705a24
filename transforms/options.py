"""What a transform needs to know about its destination.

This is the pure, secret-free view of a destination: no token, no pixel code, no URL. The
runtime (``worker.settings``) builds one per destination; tests build them with keyword
arguments. Keeping it here lets ``transforms`` import nothing of ours from outside itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DEFAULT_MAX_EVENT_AGE_S", "Features", "PurchaseEventId", "TransformOptions"]

#: Where a purchase's ``event_id`` comes from when the event has no explicit ``event_id``.
PurchaseEventId = Literal["id", "order_id"]

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

    ``purchase_event_id`` ``"order_id"`` makes a purchase's order id its ``event_id`` (for a
    browser pixel that sends the order id; :mod:`transforms.eventid`). ``event_map`` maps
    lower-cased Masivo types to TikTok names before the built-in table, as returned by
    :func:`transforms.names.check_event_map`. ``limited_data_use`` is sent on every event
    that does not say otherwise (``None``: not sent).
    """

    destination_id: str = "default"
    default_currency: str | None = None
    phone_region: str | None = None
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    max_future_skew_s: int = 300
    audience_chunk_size: int = 500
    features: Features = field(default_factory=Features)
    purchase_event_id: PurchaseEventId = "id"
    event_map: Mapping[str, str] = field(default_factory=dict)
    limited_data_use: bool | None = None
