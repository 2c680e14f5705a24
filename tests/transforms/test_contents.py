"""Field mapping: every alias of the spec's field-mapping table and of masivo-event.md."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.support import options, props, purchase_event, rejected, send_one
from transforms import RejectReason

# (item alias, value given, TikTok field, value sent)
ITEM_ALIASES = [
    ("content_id", "A1", "content_id", "A1"),
    ("id", "A1", "content_id", "A1"),
    ("item_id", "A1", "content_id", "A1"),
    ("sku", "A1", "content_id", "A1"),
    ("content_name", "Socks", "content_name", "Socks"),
    ("name", "Socks", "content_name", "Socks"),
    ("item_name", "Socks", "content_name", "Socks"),
    ("unit_price", 9.5, "price", 9.5),
    ("price", 9.5, "price", 9.5),
    ("quantity", 3, "quantity", 3),
    ("amount", 3, "quantity", 3),
    ("category", "Apparel", "content_category", "Apparel"),
    ("item_category", "Apparel", "content_category", "Apparel"),
    ("content_category", "Apparel", "content_category", "Apparel"),
    ("brand", "Acme", "brand", "Acme"),
    ("item_brand", "Acme", "brand", "Acme"),
]

LIST_SOURCES = ["items", "contents", "products"]


def _contents(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return list(props(raw)["contents"])


@pytest.mark.parametrize(
    ("alias", "given", "field", "sent"),
    [pytest.param(*row, id=f"{row[0]}->{row[2]}") for row in ITEM_ALIASES],
)
@pytest.mark.parametrize("source", LIST_SOURCES)
def test_item_aliases(source: str, alias: str, given: object, field: str, sent: object) -> None:
    item: dict[str, object] = {"content_name": "x"} if field != "content_name" else {}
    item[alias] = given
    [content] = _contents({"type": "AddToCart", source: [item]})
    assert content[field] == sent


@pytest.mark.parametrize(
    ("alias", "given", "field", "sent"),
    [pytest.param(*row, id=f"{row[0]}->{row[2]}") for row in ITEM_ALIASES],
)
def test_single_product_aliases(alias: str, given: object, field: str, sent: object) -> None:
    product: dict[str, object] = {"content_name": "x"} if field != "content_name" else {}
    product[alias] = given
    [content] = _contents({"type": "ViewContent", "product": product})
    assert content[field] == sent


def test_order_products_native_aliases() -> None:
    raw = purchase_event()
    raw["order"]["products"] = [
        {"sku": "S1", "name": "Socks", "amount": 2, "value": 59.98, "category": "C", "brand": "B"}
    ]
    assert props(raw)["contents"] == [
        {
            "content_id": "S1",
            "content_name": "Socks",
            "content_category": "C",
            "brand": "B",
            "price": 29.99,
            "quantity": 2,
        }
    ]


@pytest.mark.parametrize(
    ("item", "price"),
    [
        pytest.param(
            {"unit_price": 5, "price": 7, "value": 99, "amount": 3}, 5, id="unit_price-first"
        ),
        pytest.param({"price": 7, "value": 99, "amount": 3}, 7, id="price-over-value"),
        pytest.param({"value": 30, "amount": 3}, 10, id="line-value-divided-by-amount"),
        pytest.param({"value": 10, "amount": 3}, 3.333333, id="division-rounded"),
        pytest.param({"value": 30}, 30, id="value-without-quantity"),
        pytest.param({"value": "12.50", "quantity": "1"}, 12.5, id="numeric-strings"),
        pytest.param({}, None, id="no-price"),
    ],
)
def test_price_rules(item: dict[str, Any], price: float | None) -> None:
    [content] = _contents({"type": "AddToCart", "items": [{"id": "A", **item}]})
    assert content.get("price") == price


@pytest.mark.parametrize(
    ("given", "quantity"),
    [
        pytest.param(2, 2, id="int"),
        pytest.param(2.0, 2, id="integral-float"),
        pytest.param("3", 3, id="digit-string"),
        pytest.param(1.6, 2, id="fraction-rounded"),
        pytest.param(0.2, 1, id="small-fraction-is-one"),
        pytest.param(0, None, id="zero-omitted"),
        pytest.param(-1, None, id="negative-omitted"),
    ],
)
def test_quantity_is_an_int(given: object, quantity: int | None) -> None:
    [content] = _contents({"type": "AddToCart", "items": [{"id": "A", "quantity": given}]})
    assert content.get("quantity") == quantity
    assert quantity is None or type(content["quantity"]) is int


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        pytest.param(123, "123", id="int"),
        pytest.param(12.0, "12", id="integral-float"),
        pytest.param(" A-1 ", "A-1", id="trimmed"),
    ],
)
def test_content_id_is_always_a_string(given: object, sent: str) -> None:
    [content] = _contents({"type": "AddToCart", "items": [{"id": given}]})
    assert content["content_id"] == sent


def test_alias_precedence_content_id_over_sku_over_item_id_over_id() -> None:
    item = {"id": "4", "item_id": "3", "sku": "2", "content_id": "1"}
    assert _contents({"type": "AddToCart", "items": [item]})[0]["content_id"] == "1"
    item.pop("content_id")
    assert _contents({"type": "AddToCart", "items": [item]})[0]["content_id"] == "2"


@pytest.mark.parametrize(
    ("raw", "expected_ids"),
    [
        pytest.param(
            {"order": {"products": [{"sku": "O"}]}, "items": [{"id": "I"}]}, ["O"], id="order-first"
        ),
        pytest.param({"items": [{"id": "I"}], "contents": [{"id": "C"}]}, ["I"], id="items-then"),
        pytest.param({"contents": [{"id": "C"}], "products": [{"id": "P"}]}, ["C"], id="contents"),
        pytest.param({"products": [{"id": "P"}], "product": {"id": "S"}}, ["P"], id="products"),
        pytest.param({"product": {"id": "S"}}, ["S"], id="product"),
        pytest.param({"items": [{"id": "1"}, {"name": "two"}]}, ["1", None], id="several"),
    ],
)
def test_item_list_sources(raw: dict[str, Any], expected_ids: list[str | None]) -> None:
    contents = _contents({"type": "InitiateCheckout", **raw})
    assert [c.get("content_id") for c in contents] == expected_ids


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        pytest.param(
            {"contents": [{"id": "a"}, {"id": "b"}, {"price": 3}]},
            "contents[2]: needs content_id or content_name",
            id="contents-index",
        ),
        pytest.param(
            {"items": [{"id": ""}]}, "items[0]: needs content_id or content_name", id="blank-id"
        ),
        pytest.param({"items": ["sku"]}, "items[0]: must be an object", id="not-object"),
        pytest.param({"items": "a"}, "items: must be an array of objects", id="not-list"),
        pytest.param({"product": "a"}, "product: must be an object", id="product-not-object"),
        pytest.param(
            {"order": {"products": [{"sku": "a", "value": "abc"}]}},
            "order.products[0].value: not a number",
            id="bad-line-value",
        ),
        pytest.param(
            {"items": [{"id": "a", "price": "1,5"}]}, "items[0].price: not a number", id="bad-price"
        ),
        pytest.param(
            {"items": [{"id": "a", "quantity": [1]}]},
            "items[0].quantity: must be a number",
            id="bad-quantity",
        ),
        pytest.param(
            {"items": [{"id": {"x": 1}}]},
            "items[0].id: must be a string or number",
            id="bad-id-type",
        ),
    ],
)
def test_invalid_contents_name_the_item(raw: dict[str, Any], detail: str) -> None:
    reject = rejected({"type": "AddToCart", **raw})
    assert reject.reason == RejectReason.INVALID_CONTENTS
    assert reject.detail == detail


# --- event-level fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key", "sent"),
    [
        pytest.param({"value": 10}, "value", 10, id="value"),
        pytest.param({"value": "10.5"}, "value", 10.5, id="value-numeric-string"),
        pytest.param({"value": "10"}, "value", 10, id="value-int-string"),
        pytest.param({"order": {"value": 7.25}}, "value", 7.25, id="order.value"),
        pytest.param({"value": 1, "order": {"value": 2}}, "value", 1, id="value-over-order.value"),
        pytest.param({"value": 1, "currency": "eur"}, "currency", "EUR", id="currency-upper"),
        pytest.param(
            {"value": 1, "order": {"currency": "mxn"}}, "currency", "MXN", id="order.currency"
        ),
        pytest.param({"order_id": 991}, "order_id", "991", id="order_id-string"),
        pytest.param({"transaction_id": "t1"}, "order_id", "t1", id="transaction_id"),
        pytest.param({"order": {"purchase_id": "p1"}}, "order_id", "p1", id="order.purchase_id"),
        pytest.param({"order": {"order_id": "o1"}}, "order_id", "o1", id="order.order_id"),
        pytest.param({"query": "red shoes"}, "query", "red shoes", id="query"),
        pytest.param({"search_string": "boots"}, "query", "boots", id="search_string"),
        pytest.param({"description": "Footer CTA"}, "description", "Footer CTA", id="description"),
        pytest.param(
            {"content_type": "product_group", "items": [{"id": "a"}]},
            "content_type",
            "product_group",
            id="ct-given",
        ),
        pytest.param(
            {"content_type": "product_group"}, "content_type", None, id="ct-dropped-without-items"
        ),
        pytest.param({"items": [{"id": "a"}]}, "content_type", "product", id="ct-with-contents"),
        pytest.param({}, "content_type", None, id="no-ct-without-contents"),
        pytest.param({"value": ""}, "value", None, id="empty-value-omitted"),
    ],
)
def test_event_level_fields(fields: dict[str, Any], key: str, sent: object) -> None:
    assert props({"type": "PlaceAnOrder", **fields}).get(key) == sent


@pytest.mark.parametrize(
    ("fields", "reason", "detail"),
    [
        pytest.param(
            {"value": "ten"}, RejectReason.INVALID_VALUE, "value: not a number", id="value-text"
        ),
        pytest.param(
            {"order": {"value": True}},
            RejectReason.INVALID_VALUE,
            "order.value: must be a number, not a boolean",
            id="order.value-bool",
        ),
        pytest.param(
            {"value": [1]}, RejectReason.INVALID_VALUE, "value: must be a number", id="value-list"
        ),
        pytest.param(
            {"currency": "dollars"},
            RejectReason.INVALID_CURRENCY,
            "currency: not an ISO 4217 code",
            id="cur",
        ),
        pytest.param(
            {"order": {"currency": 840}},
            RejectReason.INVALID_CURRENCY,
            "order.currency: must be a string",
            id="order.currency-number",
        ),
        pytest.param(
            {"order": []}, RejectReason.INVALID_FIELD, "order: must be an object", id="order-list"
        ),
        pytest.param(
            {"query": {"q": 1}},
            RejectReason.INVALID_FIELD,
            "query: must be a string or number",
            id="query",
        ),
    ],
)
def test_invalid_event_fields_name_the_field(
    fields: dict[str, Any], reason: str, detail: str
) -> None:
    reject = rejected({"type": "PlaceAnOrder", **fields})
    assert (reject.reason, reject.detail) == (reason, detail)


def test_default_currency_applies_only_to_priced_events() -> None:
    eur = options(default_currency="EUR")
    assert props({"type": "AddToCart", "value": 3}, eur)["currency"] == "EUR"
    assert (
        props({"type": "AddToCart", "items": [{"id": "a", "price": 1}]}, eur)["currency"] == "EUR"
    )
    assert "currency" not in props({"type": "Contact", "description": "hi"}, eur)
    assert props({"type": "AddToCart", "value": 3, "currency": "USD"}, eur)["currency"] == "USD"


def test_standard_events_ignore_metadata() -> None:
    assert props({"type": "AddToCart", "value": 1, "metadata": {"a": 1}}) == {"value": 1}


# --- purchase requirements --------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["PURCHASE", "purchase", "CompletePayment", "Purchase"])
def test_complete_purchase_is_sent(event_type: str) -> None:
    raw = purchase_event() | {"type": event_type}
    event = send_one(raw)
    assert event["properties"]["order_id"] == "ord_1"
    assert event["properties"]["value"] == 59.98


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"products": []}, RejectReason.MISSING_CONTENTS, id="no-products"),
        pytest.param({"products": None}, RejectReason.MISSING_CONTENTS, id="null-products"),
        pytest.param({"value": None}, RejectReason.MISSING_VALUE, id="no-value"),
    ],
)
def test_purchase_requirements(change: dict[str, Any], reason: str) -> None:
    raw = purchase_event()
    raw["order"].update(change)
    assert rejected(raw).reason == reason


@pytest.mark.parametrize("currency", [None, "  "], ids=["no-currency", "blank-currency"])
def test_purchase_without_currency_is_sent_without_value(currency: object) -> None:
    """Issue 10, point 3: never rejected for a missing currency alone."""
    raw = purchase_event()
    raw["order"]["currency"] = currency
    sent = props(raw)
    assert "value" not in sent
    assert "currency" not in sent
    assert sent["contents"][0]["price"] == 29.99


def test_purchase_currency_from_destination_default() -> None:
    raw = purchase_event()
    raw["order"].pop("currency")
    assert props(raw, options(default_currency="mxn"))["currency"] == "MXN"


def test_alternative_purchase_format() -> None:
    raw = {
        "type": "purchase",
        "order_id": 1001,
        "value": "25.00",
        "currency": "usd",
        "items": [{"item_id": 7, "item_name": "Mug", "price": 12.5, "quantity": 2}],
    }
    assert props(raw) == {
        "value": 25.0,
        "currency": "USD",
        "order_id": "1001",
        "content_type": "product",
        "contents": [{"content_id": "7", "content_name": "Mug", "price": 12.5, "quantity": 2}],
    }
