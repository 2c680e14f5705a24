"""Event-level ``properties`` of standard events, and the purchase requirements.

===============  ==============================================================
TikTok field     Masivo source (first present wins)
===============  ==============================================================
``value``        ``value``, ``order.value`` (number or numeric string)
``currency``     ``currency``, ``order.currency``, else the destination default
``order_id``     ``order_id``, ``transaction_id``, ``order.purchase_id``,
                 ``order.order_id`` (always a string; the spec's ``transaction_id``)
``query``        ``query``, ``search_string``; a ``Search`` also gets it as
                 ``search_string`` (Events API 2.0's name; peers send ``query``)
``description``  ``description``
``shop_id``      ``shop_id`` (always a string)
``content_type`` only with contents: ``content_type``, else ``"product"``
``contents``     see :mod:`transforms.contents`
===============  ==============================================================

The ``order`` object is read for every event kind, not only purchases: a ``PlaceAnOrder`` or
``InitiateCheckout`` carrying an order is just as useful. The default currency is only added
when something is priced (a value or an item price): a currency alone means nothing.
Currencies are upper-cased and must be three letters (ISO 4217 form). Something priced
without any currency raises the quality warning ``currency_missing``.

Purchases (:func:`require_purchase_fields`) need an item and a value. Without a currency
(none in the event, no ``default_currency``) a purchase is still a conversion TikTok can use:
it is sent without ``value`` and ``currency`` (a value in no known currency would corrupt
ROAS) and counted as ``currency_missing``, never rejected for that alone. A currency that is
present keeps its validation (``invalid_currency``).

``value`` must not be negative (``Reject("invalid_value")`` naming ``value`` or
``order.value``): refunds are not conversions, and a negative value would silently lower the
campaign's ROAS. Zero is allowed (free items, trials). ``content_type`` describes the
``contents``, so without contents it is omitted - and not read, so a malformed one on an
item-less event is not a reason to reject it.
"""

from __future__ import annotations

import re
from typing import Any, Final

from transforms.contents import build_contents
from transforms.quality import QualityWarning
from transforms.reasons import InvalidEventError, RejectReason
from transforms.values import get_dict, to_number, to_text

__all__ = ["build_properties", "require_purchase_fields"]

_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_FIELD: Final = RejectReason.INVALID_FIELD


def _pick(
    raw: dict[str, object],
    order: dict[str, object] | None,
    keys: tuple[str, ...],
    order_keys: tuple[str, ...],
) -> tuple[str, object]:
    for key in keys:
        value = raw.get(key)
        if value is not None:
            return key, value
    if order is not None:
        for key in order_keys:
            value = order.get(key)
            if value is not None:
                return f"order.{key}", value
    return "", None


def _currency(
    raw: dict[str, object], order: dict[str, object] | None, default: str | None
) -> str | None:
    path, value = _pick(raw, order, ("currency",), ("currency",))
    if value is None:
        return default.strip().upper() if default else None
    if not isinstance(value, str):
        raise InvalidEventError(RejectReason.INVALID_CURRENCY, f"{path}: must be a string")
    code = value.strip().upper()
    if not code:
        return default.strip().upper() if default else None
    if not _CURRENCY.fullmatch(code):
        raise InvalidEventError(RejectReason.INVALID_CURRENCY, f"{path}: not an ISO 4217 code")
    return code


def build_properties(
    raw: dict[str, object], default_currency: str | None, name: str, warnings: list[str]
) -> dict[str, Any]:
    """``properties`` of event ``name`` (no ``custom_`` keys; metadata is not read here).

    Appends ``currency_missing`` to ``warnings`` when something is priced without currency.
    """
    order = get_dict(raw, "order")
    if raw.get("order") is not None and order is None:
        raise InvalidEventError(_FIELD, "order: must be an object")
    props: dict[str, Any] = {}
    contents = build_contents(raw)
    value_path, raw_value = _pick(raw, order, ("value",), ("value",))
    value = to_number(raw_value, value_path, RejectReason.INVALID_VALUE)
    if value is not None and value < 0:
        raise InvalidEventError(RejectReason.INVALID_VALUE, f"{value_path}: must not be negative")
    priced = value is not None or any("price" in item for item in contents)
    if value is not None:
        props["value"] = value
    currency = _currency(raw, order, default_currency if priced else None)
    if currency:
        props["currency"] = currency
    elif priced:
        warnings.append(QualityWarning.CURRENCY_MISSING.value)
    path, raw_order_id = _pick(
        raw, order, ("order_id", "transaction_id"), ("purchase_id", "order_id")
    )
    order_id = to_text(raw_order_id, path, _FIELD)
    if order_id:
        props["order_id"] = order_id
    path, raw_query = _pick(raw, None, ("query", "search_string"), ())
    query = to_text(raw_query, path, _FIELD)
    if query:
        props["query"] = query
        if name == "Search":
            props["search_string"] = query
    description = to_text(raw.get("description"), "description", _FIELD)
    if description:
        props["description"] = description
    shop_id = to_text(raw.get("shop_id"), "shop_id", _FIELD)
    if shop_id:
        props["shop_id"] = shop_id
    if contents:
        content_type = to_text(raw.get("content_type"), "content_type", _FIELD)
        props["content_type"] = content_type or "product"
        props["contents"] = contents
    return props


def require_purchase_fields(props: dict[str, Any]) -> None:
    """A purchase needs an item and a value - the spec's "Purchase events missing" checklist
    - else it is rejected rather than sent half-empty; without a currency its value is not
    sent (module docstring; ``build_properties`` raised ``currency_missing``)."""
    if not props.get("contents"):
        raise InvalidEventError(
            RejectReason.MISSING_CONTENTS,
            "contents: a purchase needs at least one item with content_id or content_name",
        )
    if "value" not in props:
        raise InvalidEventError(
            RejectReason.MISSING_VALUE, "value: a purchase needs value or order.value"
        )
    if "currency" not in props:
        del props["value"]
