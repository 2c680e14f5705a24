"""Money and quantities: no negatives, real fractional amounts for price, integer quantities,
and ``content_type`` only alongside contents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.support import props, purchase_event, rejected
from transforms import RejectReason


def _contents(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return list(props(raw).get("contents", []))


# --- negative values (item 6) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        pytest.param({"value": -1}, "value: must not be negative", id="value"),
        pytest.param({"value": "-0.01"}, "value: must not be negative", id="value-string"),
        pytest.param({"order": {"value": -5}}, "order.value: must not be negative", id="order"),
        pytest.param(
            {"order": {"products": [{"sku": "A", "unit_price": -2}]}},
            "order.products[0].unit_price: must not be negative",
            id="unit_price",
        ),
        pytest.param(
            {"order": {"products": [{"sku": "A"}, {"sku": "B", "price": "-3"}]}},
            "order.products[1].price: must not be negative",
            id="price-second-item",
        ),
        pytest.param(
            {"order": {"products": [{"sku": "A", "amount": 2, "value": -10}]}},
            "order.products[0].value: must not be negative",
            id="line-value",
        ),
    ],
)
def test_negative_money_is_rejected_naming_the_field(change: dict[str, Any], detail: str) -> None:
    raw = purchase_event()
    if "order" in change:
        raw["order"] = raw["order"] | change["order"]
    else:
        raw.update(change)
    reject = rejected(raw)
    assert reject.reason == RejectReason.INVALID_VALUE
    assert reject.detail == detail


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"type": "AddToCart", "value": -3}, id="non-purchase-value"),
        pytest.param({"type": "AddToCart", "items": [{"id": "A", "price": -1}]}, id="item"),
    ],
)
def test_negative_money_is_rejected_for_every_event(raw: dict[str, Any]) -> None:
    assert rejected(raw).reason == RejectReason.INVALID_VALUE


@pytest.mark.parametrize(
    ("raw", "key", "sent"),
    [
        pytest.param({"type": "AddToCart", "value": 0}, "value", 0, id="zero-value"),
        pytest.param({"type": "AddToCart", "value": "0.0"}, "value", 0.0, id="zero-string"),
        pytest.param(
            {"type": "AddToCart", "items": [{"id": "A", "price": 0}]},
            "contents",
            [{"content_id": "A", "price": 0}],
            id="zero-price",
        ),
    ],
)
def test_zero_money_is_allowed(raw: dict[str, Any], key: str, sent: object) -> None:
    assert props(raw)[key] == sent


# --- fractional quantities (item 7) -----------------------------------------------------


@pytest.mark.parametrize(
    ("item", "price", "quantity"),
    [
        pytest.param({"amount": 0.5, "value": 10}, 20, 1, id="half-unit"),
        pytest.param({"amount": 2.5, "value": 10}, 4, 3, id="two-and-a-half-rounds-up"),
        pytest.param({"amount": 1.5, "value": 3}, 2, 2, id="one-and-a-half-rounds-up"),
        pytest.param({"amount": 0.4, "value": 2}, 5, 1, id="small-fraction-min-one"),
        pytest.param({"amount": 2.4, "value": 12}, 5, 2, id="rounds-down"),
        pytest.param({"amount": "0.25", "value": "1"}, 4, 1, id="numeric-strings"),
        pytest.param({"amount": 3, "value": 10}, 3.333333, 3, id="integer-amount"),
        pytest.param({"amount": 1, "value": 10}, 10, 1, id="one"),
        pytest.param({"amount": 0, "value": 10}, 10, None, id="zero-amount-line-total"),
        pytest.param({"amount": 2.5, "unit_price": 7}, 7, 3, id="unit-price-unchanged"),
    ],
)
def test_price_uses_the_real_amount_and_quantity_is_an_int(
    item: dict[str, Any], price: float, quantity: int | None
) -> None:
    [content] = _contents({"type": "AddToCart", "order": {"products": [{"sku": "A", **item}]}})
    assert content.get("price") == pytest.approx(price)
    assert content.get("quantity") == quantity
    assert quantity is None or type(content["quantity"]) is int


# --- content_type only with contents (item 4) ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(
            {"type": "add_to_cart", "content_type": "product_group"}, None, id="no-items-dropped"
        ),
        pytest.param({"type": "ViewContent", "content_type": "product"}, None, id="no-items"),
        pytest.param(
            {"type": "add_to_cart", "content_type": {"bad": 1}}, None, id="no-items-not-read"
        ),
        pytest.param({"type": "add_to_cart", "items": []}, None, id="empty-items"),
        pytest.param(
            {"type": "add_to_cart", "content_type": "product_group", "items": [{"id": "A"}]},
            "product_group",
            id="with-items-kept",
        ),
        pytest.param(
            {"type": "add_to_cart", "product": {"id": "A"}}, "product", id="default-with-items"
        ),
    ],
)
def test_content_type_only_with_contents(raw: dict[str, Any], content_type: str | None) -> None:
    assert props(raw).get("content_type") == content_type


def test_bad_content_type_with_items_is_still_rejected() -> None:
    reject = rejected({"type": "add_to_cart", "content_type": [1], "items": [{"id": "A"}]})
    assert reject.reason == RejectReason.INVALID_FIELD
    assert reject.detail.startswith("content_type:")
