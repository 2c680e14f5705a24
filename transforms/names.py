"""Event names: which TikTok event a Masivo ``type`` becomes, and which switch governs it.

Resolution order (first match wins), and why:

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


def resolve_event_name(masivo_type: str) -> str:
    """The outgoing TikTok name for a (non-empty, trimmed) Masivo ``type``; see module doc."""
    if masivo_type in STANDARD_EVENTS:
        return masivo_type
    lower = masivo_type.lower()
    return MASIVO_EVENT_NAMES.get(lower) or _STANDARD_BY_LOWER.get(lower, masivo_type)


def is_custom(tiktok_event: str) -> bool:
    """True for custom events: only they carry flattened ``custom_`` metadata."""
    return tiktok_event not in STANDARD_EVENTS
