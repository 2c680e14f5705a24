"""The two policy gates read from the event itself: consent and purchase fulfilment.

Consent (``consent.vendors.tiktok``; product rule: the customer did not consent → ``Drop``):

* the ``tiktok`` vendor key is matched case-insensitively and trimmed (``"TikTok"``,
  ``" TIKTOK "``); when several keys match, every one of them must allow;
* only yes values allow: ``true``, ``1``, ``"true"``, ``"yes"``, ``"1"`` (see
  :func:`transforms.values.to_flag`);
* a missing key, a missing ``vendors`` object or a missing ``consent`` object allows (Masivo
  only records consent where the brand collects it); ``consent``/``vendors`` that are not
  objects count as missing;
* any other *present* value - ``false``, ``"no"``, ``"off"``, ``0``, but also ``null``,
  ``"maybe"``, ``1.0`` or an object - drops with ``no_consent``: privacy first, an
  unreadable answer is not a yes.

Fulfilment (purchases only; the spec's "Only fulfilled purchases"):

* ``fulfilled`` missing or ``null`` → fulfilled; a yes value → fulfilled; a no value
  (``false``, ``"false"``, ``"no"``, ``"off"``, ``0``, ``"0"``) → ``Drop("not_fulfilled")``;
  any other value → ``Reject("invalid_field")`` naming ``fulfilled``, because guessing either
  way could send a purchase that never happened or lose one that did;
* ``status`` or ``order.status`` (trimmed, any case) in :data:`UNFULFILLED_STATUSES` → not
  fulfilled, whatever ``fulfilled`` says. Masivo documents ``PENDING``, ``REVERSED``,
  ``CANCELLED`` and ``EXPIRED``; we also treat the US spelling ``CANCELED`` and ``REFUNDED``,
  ``FAILED`` and ``REJECTED`` as not fulfilled - none of them is a completed payment, and
  payment providers feeding Masivo use those words. Other statuses are not checked.
"""

from __future__ import annotations

from typing import Final

from transforms.reasons import InvalidEventError, RejectReason
from transforms.values import get_dict, to_flag

__all__ = ["UNFULFILLED_STATUSES", "consent_denied", "is_unfulfilled"]

#: Purchase statuses that mean "not fulfilled" (compared upper-cased, trimmed).
UNFULFILLED_STATUSES: Final = frozenset(
    {"PENDING", "REVERSED", "CANCELLED", "CANCELED", "EXPIRED", "REFUNDED", "FAILED", "REJECTED"}
)

_VENDOR: Final = "tiktok"


def consent_denied(raw: dict[str, object]) -> bool:
    """True when the event carries a TikTok consent answer that is not a yes."""
    consent = get_dict(raw, "consent")
    if consent is None:
        return False
    vendors = get_dict(consent, "vendors")
    if not vendors:
        return False
    if _VENDOR in vendors and to_flag(vendors[_VENDOR]) is not True:
        return True
    for key, value in vendors.items():
        if (
            key != _VENDOR
            and isinstance(key, str)
            and key.strip().lower() == _VENDOR
            and to_flag(value) is not True
        ):
            return True
    return False


def is_unfulfilled(raw: dict[str, object]) -> bool:
    """True for a purchase that is not fulfilled; raises for an unreadable ``fulfilled``."""
    value = raw.get("fulfilled")
    if value is not None:
        flag = to_flag(value)
        if flag is None:
            raise InvalidEventError(RejectReason.INVALID_FIELD, "fulfilled: must be true or false")
        if not flag:
            return True
    order = get_dict(raw, "order") or {}
    for status in (raw.get("status"), order.get("status")):
        if isinstance(status, str) and status.strip().upper() in UNFULFILLED_STATUSES:
            return True
    return False
