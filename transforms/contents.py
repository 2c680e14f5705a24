"""Item lists → TikTok's ``properties.contents``.

Where items come from (first present wins): ``order.products`` (Masivo's native purchase),
then ``items``, ``contents``, ``products``, then a single ``product`` object. Like the peers
(RudderStack wraps a lone ``contents`` object), any of the list fields may also hold one
object instead of a list: it is that one item (errors then name ``items[0]``, ...).

Per item, aliases are read in this order (first non-null wins):

==================  ============================================
TikTok field        Masivo aliases
==================  ============================================
``content_id``      ``content_id``, ``sku``, ``item_id``, ``product_id``, ``id``
``content_name``    ``content_name``, ``name``, ``item_name``
``price``           ``unit_price``, ``price``; else line ``value`` ÷ quantity
``quantity``        ``quantity``, ``amount``
``content_category`` ``content_category``, ``category``, ``item_category``
``brand``           ``brand``, ``item_brand``
==================  ============================================

``content_id`` is always a string (TikTok rejects numeric ids). A product's ``value`` is the
*line total* (quantity x unit price), so it becomes ``price`` only divided by the quantity -
the *real* quantity as given, fractions included (``amount`` 0.5, ``value`` 10 → ``price``
20; ``amount`` 2.5, ``value`` 10 → ``price`` 4), rounded to 6 decimals. Without a positive
quantity the line total is the price.

The ``quantity`` sent is an integer (TikTok's field is one; weights and volumes arrive as
fractions): rounded half up (2.5 → 3, 0.4 → 1), at least 1 when positive; zero or negative
quantities are omitted. So ``price x quantity`` may differ from the line total for
fractional amounts; ``price`` is the one kept exact because it feeds value optimisation.

A negative ``price`` (given, or derived from a negative line ``value``) is
``Reject("invalid_value")`` naming the field, e.g. ``order.products[0].unit_price: must not
be negative``; zero is allowed. Every item needs ``content_id`` or ``content_name``; errors
name the input path, e.g. ``items[2]: needs content_id or content_name``.
"""

from __future__ import annotations

import math
from typing import Any, Final

from transforms.reasons import InvalidEventError, RejectReason
from transforms.values import INT64_MAX, to_number, to_text

__all__ = ["ITEM_ALIASES", "ITEM_LIST_FIELDS", "build_contents", "find_items"]

#: Top-level item list fields, in precedence order (after ``order.products``).
ITEM_LIST_FIELDS: Final = ("items", "contents", "products")

ITEM_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "content_id": ("content_id", "sku", "item_id", "product_id", "id"),
    "content_name": ("content_name", "name", "item_name"),
    "price": ("unit_price", "price"),
    "quantity": ("quantity", "amount"),
    "content_category": ("content_category", "category", "item_category"),
    "brand": ("brand", "item_brand"),
}

_INVALID: Final = RejectReason.INVALID_CONTENTS
_TEXT_ALIASES: Final = tuple(
    (field, ITEM_ALIASES[field])
    for field in ("content_id", "content_name", "content_category", "brand")
)


def _list_at(path: str, value: object) -> tuple[str, list[object]]:
    if isinstance(value, list):
        return path, value
    if isinstance(value, dict):
        return path, [value]
    raise InvalidEventError(_INVALID, f"{path}: must be an array of objects")


def find_items(raw: dict[str, object]) -> tuple[str, list[object]] | None:
    """The item list and its input path, or ``None`` when the event has no items."""
    order = raw.get("order")
    if isinstance(order, dict) and order.get("products") is not None:
        return _list_at("order.products", order["products"])
    for key in ITEM_LIST_FIELDS:
        if raw.get(key) is not None:
            return _list_at(key, raw[key])
    product = raw.get("product")
    if product is None:
        return None
    if not isinstance(product, dict):
        raise InvalidEventError(_INVALID, "product: must be an object")
    return "product", [product]


#: the two aliases of each numeric field, read inline (the hottest lookups of an item)
_QUANTITY, _QUANTITY_ALT = ITEM_ALIASES["quantity"]
_PRICE, _PRICE_ALT = ITEM_ALIASES["price"]


def _amount(item: dict[str, Any]) -> float | int | None:
    """The real quantity (fractions kept) when positive, else ``None``."""
    alias, value = _QUANTITY, item.get(_QUANTITY)
    if value is None:
        alias, value = _QUANTITY_ALT, item.get(_QUANTITY_ALT)
    number = to_number(value, alias, _INVALID)
    if number is None or number <= 0:
        return None
    if number > INT64_MAX:
        raise InvalidEventError(_INVALID, f"{alias}: number out of range")
    return number


def _not_negative(number: float | int, alias: str) -> float | int:
    if number < 0:
        raise InvalidEventError(RejectReason.INVALID_VALUE, f"{alias}: must not be negative")
    return number


def _price(item: dict[str, Any], amount: float | int | None) -> float | int | None:
    alias, value = _PRICE, item.get(_PRICE)
    if value is None:
        alias, value = _PRICE_ALT, item.get(_PRICE_ALT)
    price = to_number(value, alias, _INVALID)
    if price is not None:
        return _not_negative(price, alias)
    line_total = to_number(item.get("value"), "value", _INVALID)
    if line_total is None:
        return None
    _not_negative(line_total, "value")
    if amount is None or amount == 1:
        return line_total
    return round(line_total / amount, 6)


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    """The TikTok fields of one item; error details name only the alias (prefixed later)."""
    content: dict[str, Any] = {}
    for field, aliases in _TEXT_ALIASES:
        for alias in aliases:
            value = item.get(alias)
            if value is not None:
                text = value.strip() if isinstance(value, str) else to_text(value, alias, _INVALID)
                if text:
                    content[field] = text
                break
    if "content_id" not in content and "content_name" not in content:
        return content
    amount = _amount(item)
    price = _price(item, amount)
    if price is not None:
        content["price"] = price
    if amount is not None:
        content["quantity"] = amount if type(amount) is int else max(1, math.floor(amount + 0.5))
    return content


def _content(item: object, source: str, index: int) -> dict[str, Any]:
    # Paths are only formatted on error: building them eagerly cost ~10% of a purchase.
    if not isinstance(item, dict):
        raise InvalidEventError(_INVALID, f"{source}[{index}]: must be an object")
    try:
        content = _fields(item)
    except InvalidEventError as exc:
        raise InvalidEventError(exc.reason, f"{source}[{index}].{exc.detail}") from None
    if "content_id" not in content and "content_name" not in content:
        raise InvalidEventError(_INVALID, f"{source}[{index}]: needs content_id or content_name")
    return content


def build_contents(raw: dict[str, object]) -> list[dict[str, Any]]:
    """TikTok ``contents`` for the event; empty when it has no items."""
    found = find_items(raw)
    if found is None:
        return []
    source, items = found
    return [_content(item, source, index) for index, item in enumerate(items)]
