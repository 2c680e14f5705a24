"""Event names: which TikTok event a Masivo ``type`` becomes, and which switch governs it.

Resolution order (first match wins), and why:

0. the destination's ``event_map`` (``{REGISTRATION: CompleteRegistration}``), keys compared
   case-insensitively: a brand's own types come before any built-in rule. A target that is
   a standard name gets that name's rules (a mapped purchase is still gated on fulfilment
   and governed by the ``purchases`` switch); any other target is a custom event.
   :func:`check_event_map` refuses, at start-up, targets that would surprise: a standard
   name in the wrong case (TikTok would see an unrelated custom event), a Masivo name
   (``purchase`` is not a TikTok name), the audience/tag event names, and the keys
   ``AUDIENCE``/``CUSTOMER_TAGS`` (their events have their own shape);
1. an exact TikTok standard name (case-sensitive, after trimming) is sent as is - TikTok's
   names are case-sensitive, so ``Purchase`` (the newer standard name) stays ``Purchase``;
2. a Masivo name of the product spec's event-mapping table, case-insensitive - so
   ``purchase`` and ``PURCHASE`` both become ``CompletePayment``;
3. a case-insensitive match of any standard TikTok name (the 14 and the newer ones) is sent
   with TikTok's spelling - ``completepayment``, ``ADDTOCART``, ``lead`` become
   ``CompletePayment``, ``AddToCart``, ``Lead``. TikTok would treat a differently cased name
   as an unrelated custom event, and a mis-cased purchase would escape the purchase rules
   (fulfilment, required value/currency) and the ``purchases`` switch. Step 2 runs first, so
   ``purchase``/``PURCHASE`` stay ``CompletePayment`` (the spec's table), not ``Purchase``;
4. anything else is a custom event keeping its (trimmed) name.

The special types ``AUDIENCE`` and ``CUSTOMER_TAGS`` (case-insensitive) are not events of
their own: :mod:`transforms.audience` turns them into the custom events ``AudienceUpdated`` /
``AudienceRemoved`` and ``CustomerTagsUpdated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "AUDIENCE_REMOVED",
    "AUDIENCE_TYPE",
    "AUDIENCE_UPDATED",
    "CUSTOMER_TAGS_TYPE",
    "CUSTOMER_TAGS_UPDATED",
    "EVENT_NAME_SWITCH",
    "LEGACY_STANDARD_EVENTS",
    "MASIVO_EVENT_NAMES",
    "NEWER_STANDARD_EVENTS",
    "PURCHASE_EVENTS",
    "STANDARD_EVENTS",
    "Switch",
    "check_event_map",
    "is_custom",
    "resolve_event_name",
    "switch_for",
]


class Switch:
    """Names of the destination switches (the fields of :class:`~transforms.Features`)."""

    EVENTS: Final = "events"
    CONVERSIONS: Final = "conversions"
    PURCHASES: Final = "purchases"
    AUDIENCES: Final = "audiences"
    CUSTOMER_TAGS: Final = "customer_tags"


#: The product spec's event-mapping table, keyed by the lower-cased Masivo name.
MASIVO_EVENT_NAMES: Final[dict[str, str]] = {
    "purchase": "CompletePayment",
    "add_to_cart": "AddToCart",
    "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo",
    "view_item": "ViewContent",
    "search": "Search",
    "sign_up": "CompleteRegistration",
    "add_to_wishlist": "AddToWishlist",
}

#: The spec's "Standard conversion events (14 events)".
LEGACY_STANDARD_EVENTS: Final = (
    "ViewContent",
    "ClickButton",
    "Search",
    "Contact",
    "Download",
    "SubmitForm",
    "CompleteRegistration",
    "Subscribe",
    "AddToWishlist",
    "AddToCart",
    "InitiateCheckout",
    "AddPaymentInfo",
    "PlaceAnOrder",
    "CompletePayment",
)

#: Standard names TikTok added later (API notes §10), accepted as exact names.
NEWER_STANDARD_EVENTS: Final = (
    "Purchase",
    "Lead",
    "StartTrial",
    "SubmitApplication",
    "ApplicationApproval",
    "Schedule",
    "CustomizeProduct",
    "FindLocation",
)

STANDARD_EVENTS: Final = frozenset(LEGACY_STANDARD_EVENTS + NEWER_STANDARD_EVENTS)

#: Step 3 of the resolution: lower-cased standard name → TikTok's spelling.
_STANDARD_BY_LOWER: Final[dict[str, str]] = {name.lower(): name for name in STANDARD_EVENTS}

#: The purchase events: only fulfilled ones are sent, and they need contents/value/currency.
PURCHASE_EVENTS: Final = frozenset({"CompletePayment", "Purchase"})

AUDIENCE_TYPE: Final = "audience"
CUSTOMER_TAGS_TYPE: Final = "customer_tags"
AUDIENCE_UPDATED: Final = "AudienceUpdated"
AUDIENCE_REMOVED: Final = "AudienceRemoved"
CUSTOMER_TAGS_UPDATED: Final = "CustomerTagsUpdated"

#: masivo-event.md: the eight conversions of the spec's table, and every newer standard name
#: that is not a purchase.
_CONVERSIONS: Final = (
    "ViewContent",
    "AddToWishlist",
    "AddToCart",
    "InitiateCheckout",
    "AddPaymentInfo",
    "PlaceAnOrder",
    "CompleteRegistration",
    "Subscribe",
    *(name for name in NEWER_STANDARD_EVENTS if name not in PURCHASE_EVENTS),
)

#: masivo-event.md's switch table. Names not listed here (custom events) use ``events``.
EVENT_NAME_SWITCH: Final[dict[str, str]] = {
    **dict.fromkeys(PURCHASE_EVENTS, Switch.PURCHASES),
    **dict.fromkeys(_CONVERSIONS, Switch.CONVERSIONS),
    **dict.fromkeys(("ClickButton", "Search", "Contact", "Download", "SubmitForm"), Switch.EVENTS),
    AUDIENCE_UPDATED: Switch.AUDIENCES,
    AUDIENCE_REMOVED: Switch.AUDIENCES,
    CUSTOMER_TAGS_UPDATED: Switch.CUSTOMER_TAGS,
}


def switch_for(tiktok_event: str) -> str:
    """The switch governing an outgoing TikTok event name; every custom event is ``events``.

    Note: a custom event literally named ``AudienceUpdated`` is governed by ``audiences``;
    the switch belongs to the outgoing name, so the runtime can re-check it from the payload.
    """
    return EVENT_NAME_SWITCH.get(tiktok_event, Switch.EVENTS)


def resolve_event_name(masivo_type: str, event_map: Mapping[str, str] | None = None) -> str:
    """The outgoing TikTok name for a (non-empty, trimmed) Masivo ``type``; see module doc.

    ``event_map`` is a destination's map as :func:`check_event_map` returned it.
    """
    if event_map:
        mapped = event_map.get(masivo_type.lower())
        if mapped is not None:
            return mapped
    if masivo_type in STANDARD_EVENTS:
        return masivo_type
    lower = masivo_type.lower()
    return MASIVO_EVENT_NAMES.get(lower) or _STANDARD_BY_LOWER.get(lower, masivo_type)


_RESERVED: Final = {
    name.lower(): name for name in (AUDIENCE_UPDATED, AUDIENCE_REMOVED, CUSTOMER_TAGS_UPDATED)
}


def _check_target(where: str, target: object) -> str:
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"{where}: the target must be a TikTok event name")
    name = target.strip()
    lower = name.lower()
    if name in STANDARD_EVENTS:
        return name
    if lower in _STANDARD_BY_LOWER:
        right = _STANDARD_BY_LOWER[lower]
        raise ValueError(f"{where}: TikTok's names are case-sensitive; write {right}")
    if lower in MASIVO_EVENT_NAMES:
        right = MASIVO_EVENT_NAMES[lower]
        raise ValueError(f"{where}: the target is a Masivo name, not TikTok's; write {right}")
    if lower in _RESERVED or lower in (AUDIENCE_TYPE, CUSTOMER_TAGS_TYPE):
        raise ValueError(f"{where}: the target is reserved for audience and customer-tag events")
    return name


def check_event_map(event_map: Mapping[str, str]) -> dict[str, str]:
    """A destination's ``event_map``, validated (module doc, step 0): lower-cased, trimmed
    keys to TikTok names. Raises ``ValueError`` naming the offending key, never its target."""
    out: dict[str, str] = {}
    for key, target in event_map.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError("keys must be Masivo event types (non-empty text)")
        folded = key.strip().lower()
        where = f"key {key.strip()!r}"
        if folded in (AUDIENCE_TYPE, CUSTOMER_TAGS_TYPE):
            raise ValueError(f"{where}: AUDIENCE and CUSTOMER_TAGS events cannot be remapped")
        if folded in out:
            raise ValueError(f"{where}: given twice (keys are compared case-insensitively)")
        out[folded] = _check_target(where, target)
    return out


def is_custom(tiktok_event: str) -> bool:
    """True for custom events: only they carry flattened ``custom_`` metadata."""
    return tiktok_event not in STANDARD_EVENTS
