"""Match quality: which match keys an outgoing event carries and what it lacks.

Every :class:`~transforms.outcome.Send` carries one :class:`Quality` per event: the event's
TikTok name, the match keys its ``user`` has and the quality warnings the transform raised.
Both vocabularies are fixed (:class:`MatchKey`, :class:`QualityWarning`), so counters and
metric labels built from them stay bounded; only the event name varies.

Match keys (from the ``user`` object TikTok receives):

=================  ==================================================================
key                present when ``user`` has
=================  ==================================================================
``email``          ``email`` (hashed)
``phone``          ``phone`` (hashed E.164)
``external_id``    ``external_id`` (hashed customer id)
``ttclid``         ``ttclid`` (TikTok click id)
``ttp``            ``ttp`` (the pixel's ``_ttp`` cookie)
``ip_user_agent``  both ``ip`` and ``user_agent``
``name_address``   ``first_name``, ``last_name`` or ``zip_code`` (city, state and
                   country refine them but do not count alone)
=================  ==================================================================

Warnings:

=======================  ===============================================================
warning                  raised when
=======================  ===============================================================
``no_match_key``         none of ``email``, ``phone``, ``external_id``, ``ttclid``,
                         ``ttp``: TikTok can at best guess from IP and user agent
``email_unusable``       an email was given but is not an address or is a placeholder
                         (anonymous customers' placeholders are expected, not counted)
``phone_unusable``       a phone was given but is not a possible number (a local number
                         without ``phone_region``, a typo, ...)
``currency_missing``     something has a price but no currency came with the event and
                         the destination has no ``default_currency``; a purchase is
                         then sent without ``value`` and ``currency``
``recommended_missing``  a parameter TikTok's event table recommends is missing:
                         ``contents`` or ``value`` for the conversion events of the
                         spec's table (:data:`VALUE_EVENTS`), ``query`` for ``Search``
``params_ignored``       the event held parameters that were not sent: top-level keys
                         outside the input contract (they may hold PII), or ``metadata``
                         / ``properties`` on a standard event
=======================  ===============================================================
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, NamedTuple

__all__ = [
    "DETERMINISTIC_KEYS",
    "RECOMMENDED",
    "VALUE_EVENTS",
    "MatchKey",
    "Quality",
    "QualityWarning",
    "has_deterministic_key",
    "match_keys",
    "quality_of",
    "recommended_missing",
]


class _Vocabulary(StrEnum):
    """A member hashes like its value (``Enum`` hashes the member's *name*, in Python code):
    members and plain strings are interchangeable as dict keys, and hashing costs nothing."""

    __hash__ = str.__hash__


class MatchKey(_Vocabulary):
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL_ID = "external_id"
    TTCLID = "ttclid"
    TTP = "ttp"
    IP_USER_AGENT = "ip_user_agent"
    NAME_ADDRESS = "name_address"


class QualityWarning(_Vocabulary):
    NO_MATCH_KEY = "no_match_key"
    EMAIL_UNUSABLE = "email_unusable"
    PHONE_UNUSABLE = "phone_unusable"
    CURRENCY_MISSING = "currency_missing"
    RECOMMENDED_MISSING = "recommended_missing"
    PARAMS_IGNORED = "params_ignored"


#: The keys that identify a person or a browser; without any of them: ``no_match_key``.
DETERMINISTIC_KEYS: Final = (
    MatchKey.EMAIL,
    MatchKey.PHONE,
    MatchKey.EXTERNAL_ID,
    MatchKey.TTCLID,
    MatchKey.TTP,
)

#: The spec's events whose key parameters include ``contents`` and ``value`` (and
#: ``Purchase``, TikTok's newer name for ``CompletePayment``).
VALUE_EVENTS: Final = frozenset(
    {
        "ViewContent",
        "CompleteRegistration",
        "Subscribe",
        "AddToWishlist",
        "AddToCart",
        "InitiateCheckout",
        "AddPaymentInfo",
        "PlaceAnOrder",
        "CompletePayment",
        "Purchase",
    }
)

_SIMPLE_KEYS: Final = tuple(key.value for key in DETERMINISTIC_KEYS)
_IP_USER_AGENT: Final = MatchKey.IP_USER_AGENT.value
_NAME_ADDRESS: Final = MatchKey.NAME_ADDRESS.value


class Quality(NamedTuple):
    """One outgoing event's match keys and warnings, each in its enum's order (plain strings
    of :class:`MatchKey` and :class:`QualityWarning`: a tuple is the cheapest thing to build
    once per event, and equal qualities hash alike, which lets the runtime count them)."""

    event: str
    keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """``{"event", "keys", "warnings"}``; shared between equal qualities: read-only."""
        return _quality_json(self)


@lru_cache(maxsize=8192)
def _quality_json(quality: Quality) -> dict[str, Any]:
    return {"event": quality.event, "keys": list(quality.keys), "warnings": list(quality.warnings)}


def match_keys(user: dict[str, Any]) -> tuple[str, ...]:
    """The match keys of a ``user`` object, in :class:`MatchKey` order."""
    keys = [key for key in _SIMPLE_KEYS if key in user]
    if "ip" in user and "user_agent" in user:
        keys.append(_IP_USER_AGENT)
    if "first_name" in user or "last_name" in user or "zip_code" in user:
        keys.append(_NAME_ADDRESS)
    return tuple(keys)


def has_deterministic_key(keys: tuple[str, ...]) -> bool:
    """True when ``keys`` (from :func:`match_keys`) hold one of :data:`DETERMINISTIC_KEYS`."""
    return bool(keys) and keys[0] in _SIMPLE_KEYS


_NO_MATCH_KEY: Final = QualityWarning.NO_MATCH_KEY.value
_WARNING_ORDER: Final = {warning.value: rank for rank, warning in enumerate(QualityWarning)}


@lru_cache(maxsize=8192)
def quality_of(name: str, user_fields: tuple[str, ...], warnings: tuple[str, ...]) -> Quality:
    """The :class:`Quality` of event ``name`` whose ``user`` has ``user_fields``, with
    ``warnings`` (any order) plus ``no_match_key`` when it applies. Cached: events come in
    few shapes, so this is one lookup, and equal qualities are the same object."""
    keys = match_keys(dict.fromkeys(user_fields))
    if not has_deterministic_key(keys):
        warnings = (*warnings, _NO_MATCH_KEY)
    return Quality(name, keys, tuple(sorted(set(warnings), key=_WARNING_ORDER.__getitem__)))


#: event name → the properties TikTok's table recommends for it (module docstring).
RECOMMENDED: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(VALUE_EVENTS, ("contents", "value")),
    "Search": ("query",),
}


def recommended_missing(name: str, props: dict[str, Any]) -> bool:
    """True when ``props`` lacks what TikTok's table recommends for event ``name``."""
    wanted = RECOMMENDED.get(name)
    return wanted is not None and not all(key in props for key in wanted)
